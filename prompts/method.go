package prompts

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"synthkit/export"
	"synthkit/local"
)

// Role says what a method uses a model for; run.json records it.
type Role string

// Model roles.
const (
	RoleGenerator Role = "generator"
	RoleResponder Role = "responder"
	RoleJudge     Role = "judge"
	RoleEmbedder  Role = "embedder"
)

// ModelRef is one model a method needs, with its role.
type ModelRef struct {
	Name string
	Role Role
}

// Identity is what makes a run what it is, beyond the models and the seed:
// a resume whose identity differs is refused. All of it goes into run.json.
type Identity struct {
	// Templates are our prompt templates the method uses.
	Templates []*Template
	// Hashes are other texts that shape the data, hashed: the inputs, a
	// user's system prompt, a model's chat template.
	Hashes map[string]string
	// TemplateHash is the per-row template_hash column (default: one hash
	// over Templates).
	TemplateHash string
}

// All returns every hash keyed by name, as run.json records them. An
// empty text (no system prompt given) has nothing to record.
func (id Identity) All() map[string]string {
	out := Hashes(id.Templates...)
	empty := TextHash("")
	for k, v := range id.Hashes {
		if v != empty {
			out[k] = v
		}
	}
	return out
}

// Method is the contract every generation method fills. The lifecycle
// (package runner) calls Name and Models, resolves (and pulls) the models,
// calls Prepare with them before any run directory exists, records the
// identity in run.json, then calls Run.
type Method interface {
	// Name is the method as run.json and every row record it.
	Name() string
	// Models lists the models the method needs, with their roles.
	Models() []ModelRef
	// Prepare checks the method against the resolved models (in the order
	// of Models, names as the server knows them) and returns its identity.
	// Errors here are the user's to fix (a model without a chat template)
	// and come before anything is written.
	Prepare(models []local.ModelInfo) (Identity, error)
	// Target is how many accepted records complete the run.
	Target() int
	// Run generates toward Target, journaling through env. It is called
	// only after Prepare, which resolves what Run needs.
	Run(ctx context.Context, env *Env) error
}

// Counter is implemented by a method whose target counts something other
// than accepted units (prefer counts judged prompts, not the several pair
// units each may add); the lifecycle uses it for the progress line and to
// tell whether -n was reached.
type Counter interface {
	Reached(run *export.Run) int64
}

// Factory makes a method from its options; for the recipe runner, which
// knows methods by name.
type Factory struct {
	Name    string
	Summary string
	// New returns a zero method value; its exported fields are its options.
	New func() Method
}

var (
	registryMu sync.Mutex
	registry   = map[string]Factory{}
)

// Register makes a method known by name (and by its aliases). It panics on
// a duplicate name: registrations are static.
func Register(f Factory, aliases ...string) {
	registryMu.Lock()
	defer registryMu.Unlock()
	for _, n := range append([]string{f.Name}, aliases...) {
		if _, dup := registry[n]; dup {
			panic(fmt.Sprintf("prompts: method %q registered twice", n))
		}
		registry[n] = f
	}
}

// Lookup returns the method registered under name.
func Lookup(name string) (Factory, bool) {
	registryMu.Lock()
	defer registryMu.Unlock()
	f, ok := registry[name]
	return f, ok
}

// Methods lists the registered method names (without aliases), sorted.
func Methods() []string {
	registryMu.Lock()
	defer registryMu.Unlock()
	var out []string
	for n, f := range registry {
		if n == f.Name {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

func init() {
	Register(Factory{Name: "self-instruct", Summary: "bootstrap tasks from seed tasks (Self-Instruct)",
		New: func() Method { return &SelfInstruct{} }}, "selfinstruct")
	Register(Factory{Name: "evol-instruct", Summary: "evolve prompts in depth and breadth (Evol-Instruct)",
		New: func() Method { return &Evol{} }}, "evol")
	Register(Factory{Name: "magpie", Summary: "queries from the chat template's prefix alone (Magpie)",
		New: func() Method { return &Magpie{} }})
	Register(Factory{Name: "respond", Summary: "answer prompts with one or several models",
		New: func() Method { return &Respond{} }})
}

// resolvedNames returns the resolved names of models, in order.
func resolvedNames(models []local.ModelInfo) []string {
	out := make([]string, len(models))
	for i, m := range models {
		out[i] = m.Name
	}
	return out
}

// Statuser is implemented by a method with a figure worth watching while
// it runs (QD-score and coverage of an archive); the progress display
// shows it next to the counts.
type Statuser interface {
	Status() string
}
