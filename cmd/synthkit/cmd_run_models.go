package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"synthkit/local"
	"synthkit/prompts/runner"
	"synthkit/recipe"
)

// recipeModelError is a model the recipe needs that the server does not
// have and could not pull (exit status 4, through the runner's error). Its
// text says what to do in the recipe's terms: the pull command, or the
// --set that swaps in a model the server has.
type recipeModelError struct {
	r       *recipe.Recipe
	missing []string
	have    []string
	pullOff bool
	err     *runner.ModelUnavailableError
}

func (e *recipeModelError) Unwrap() error { return e.err }

func (e *recipeModelError) Error() string {
	var b strings.Builder
	need := strings.Join(e.missing, ", ")
	switch {
	case e.pullOff:
		fmt.Fprintf(&b, "the recipe needs %s, which the server does not have (--pull=false)\npull it: synthkit models pull %s", need, strings.Join(e.missing, " "))
	case runner.Offline(e.err.Err):
		fmt.Fprintf(&b, "cannot pull %s: the Ollama server cannot reach the model registry (offline?)\n  (%v)", need, e.err.Err)
	default:
		fmt.Fprintf(&b, "cannot pull %s: %v", need, e.err.Err)
	}
	if len(e.have) == 0 {
		if !e.pullOff {
			fmt.Fprintf(&b, "\nthis server has no models yet; where there is internet, pull one: synthkit models pull %s", e.missing[0])
		}
		return b.String()
	}
	fmt.Fprintf(&b, "\nmodels on this server: %s", strings.Join(e.have, ", "))
	// Point at the variable that holds the missing model, if one does.
	for _, k := range slices.Sorted(maps.Keys(e.r.Vars)) {
		if slices.Contains(e.missing, e.r.Vars[k]) {
			fmt.Fprintf(&b, "\nuse one of them: synthkit run %s --set %s=%s", e.r.File, k, e.have[0])
			return b.String()
		}
	}
	fmt.Fprintf(&b, "\npull it where there is internet (synthkit models pull %s) or name a model the server has in %s", e.missing[0], e.r.File)
	return b.String()
}

// ensureRecipeModels pulls what is missing before the first stage starts,
// so no stage fails hours in for want of a model.
func ensureRecipeModels(ctx context.Context, c *local.Client, r *recipe.Recipe, g *globalOptions, models []modelState, errOut io.Writer) error {
	var missing []string
	for _, m := range models {
		if m.err != nil {
			return m.err
		}
		if !m.present {
			missing = append(missing, m.name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	fail := func(err error, pullOff bool) error {
		err = runner.ModelError(ctx, c, missing, err)
		mu, ok := err.(*runner.ModelUnavailableError)
		if !ok {
			return err // the server itself is gone: its own status
		}
		return &recipeModelError{r: r, missing: missing, have: mu.Have, pullOff: pullOff, err: mu}
	}
	if !g.pull {
		return fail(fmt.Errorf("not pulled"), true)
	}
	gen := genOptions{}
	ro := gen.runnerOptions(g, errOut)
	_, err := c.EnsureModels(ctx, missing, true, func(p local.PullProgress) { ro.PullProgress(p, false) })
	ro.PullProgress(local.PullProgress{}, true)
	if err != nil {
		return fail(err, false)
	}
	return nil
}
