package prompts

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"synthkit/export"
	"synthkit/local"
)

// Magpie makes conversations from nothing but a model's chat template: raw
// generation from the prefix that opens a user turn makes an aligned model
// write a plausible user query, which the model then answers.
type Magpie struct {
	Model string
	// System is an optional system prompt placed in the prefix; without
	// one, the model's Modelfile SYSTEM is used (explicitly, in the prefix
	// and in the stored row).
	System string
	Count  int
	// Turns is the number of user/assistant exchanges per conversation.
	Turns int
	// QueryMaxTokens bounds one query (the answer has --num-predict).
	QueryMaxTokens int

	model    string
	template string
	stops    []string
	tmplHash string
}

var magpieFollowUp = mustTemplate("magpie_followup")

// DefaultQueryMaxTokens bounds a Magpie query unless set.
const DefaultQueryMaxTokens = 512

// MagpieStallUnits is how many conversations in a row may fail before
// Magpie gives up (a model that repeats one query forever).
const MagpieStallUnits = 50

func (m *Magpie) Name() string       { return "magpie" }
func (m *Magpie) Models() []ModelRef { return []ModelRef{{m.Model, RoleGenerator}} }
func (m *Magpie) Target() int        { return m.Count }

func (m *Magpie) Prepare(models []local.ModelInfo) (Identity, error) {
	if m.Turns <= 0 {
		m.Turns = 1
	}
	if m.QueryMaxTokens <= 0 {
		m.QueryMaxTokens = DefaultQueryMaxTokens
	}
	info := models[0]
	m.model, m.template = info.Name, info.Template
	if _, err := QueryPrefix(m.template, m.System, nil); err != nil {
		return Identity{}, fmt.Errorf("magpie needs a chat model whose template opens a user turn; %s: %w", info.Name, err)
	}
	ct, err := ParseChatTemplate(m.template)
	if err != nil {
		return Identity{}, fmt.Errorf("magpie with %s: %w", info.Name, err)
	}
	m.stops = queryStops(ct)
	m.tmplHash = TextHash(m.template + "\x00" + magpieFollowUp.Hash)
	return Identity{
		Templates:    []*Template{magpieFollowUp},
		Hashes:       map[string]string{"chat template of " + info.Name: TextHash(m.template), "system": TextHash(m.System)},
		TemplateHash: m.tmplHash,
	}, nil
}

// queryStops are the stop strings of a raw-generated query: the template's
// end-of-turn marker, and the header of the turn after it, for models that
// run on into the answer.
func queryStops(ct *ChatTemplate) []string {
	var out []string
	add := func(s string) {
		s = strings.TrimSpace(s)
		if s != "" && !containsString(out, s) {
			out = append(out, s)
		}
	}
	first := ct.QueryStop()
	add(first)
	if rest, ok := strings.CutPrefix(strings.TrimLeft(ct.AfterQuery(), " \t\r\n"), first); ok && first != "" {
		rest = strings.TrimSpace(rest)
		if i := strings.IndexByte(rest, '\n'); i > 0 {
			rest = rest[:i]
		}
		add(rest)
	}
	return out
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func magpieUnit(i int) string { return fmt.Sprintf("magpie-%06d", i) }

// querySet is the exact-duplicate check on first queries. A query leaves
// it again when its conversation is rejected, so a fresh run and a resumed
// one (which rebuilds it from accepted rows) hold the same set.
type querySet struct {
	mu   sync.Mutex
	seen map[string]bool
}

func normQuery(q string) string { return strings.ToLower(strings.Join(strings.Fields(q), " ")) }

func (s *querySet) add(q string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := normQuery(q)
	if s.seen[k] {
		return false
	}
	s.seen[k] = true
	return true
}

func (s *querySet) remove(q string) {
	s.mu.Lock()
	delete(s.seen, normQuery(q))
	s.mu.Unlock()
}

func (m *Magpie) Run(ctx context.Context, env *Env) error {
	if m.model == "" {
		return fmt.Errorf("magpie: Prepare was not called with the model's template")
	}
	seen := &querySet{seen: map[string]bool{}}
	err := env.Run.Rows(func(unit string, rows []export.Row) error {
		for _, r := range rows {
			if sft, ok := r.(export.SFT); ok {
				for _, msg := range sft.Messages {
					if msg.Role == "user" {
						seen.add(msg.Content)
						break
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rebuild the query set: %w", err)
	}
	system := env.systemMessages(m.model, m.System)
	return env.RunPhases(ctx, &Phase{
		Model: m.model, Method: m.Name(), Target: int64(m.Count), Accepted: env.Run.Counts().Accepted,
		StallAfter: MagpieStallUnits,
		StallHint:  "the model keeps writing empty or repeated queries (try another chat model or a --system prompt that sets a topic)",
		Next: seqUnits(-1, func(i int) bool { return env.Run.Done(magpieUnit(i)) }, func(i int) Unit {
			id := magpieUnit(i)
			seed := UnitSeed(env.Seed, id)
			prov := export.Provenance{Method: m.Name(), Model: m.model, Seed: &seed, TemplateHash: m.tmplHash}
			return Unit{ID: id, Prov: prov, Do: func(ctx context.Context, w *Work) error {
				conv, err := m.converse(ctx, env, system, seen, seed)
				if err != nil {
					return err
				}
				row := export.SFT{Messages: toExport(conv), Metadata: map[string]any{"turns": m.Turns}}
				return w.Commit(Entry{Unit: id, Rows: []export.Row{row}, Prov: prov})
			}}
		}),
	})
}

// converse writes one conversation: for each turn a raw-generated query
// (follow-up turns under a system prompt that asks for follow-ups) and
// the model's answer to it.
func (m *Magpie) converse(ctx context.Context, env *Env, system []local.Message, seen *querySet, seed int64) (conv []local.Message, err error) {
	conv = append(conv, system...)
	sysText := ""
	if len(system) > 0 {
		sysText = system[0].Content
	}
	var first string
	defer func() {
		if err != nil && first != "" {
			seen.remove(first)
		}
	}()
	for turn := 0; turn < m.Turns; turn++ {
		prefixSystem := sysText
		if turn > 0 {
			if prefixSystem, err = magpieFollowUp.Render(map[string]any{"System": sysText}); err != nil {
				return nil, err
			}
		}
		history := conv[len(system):]
		prefix, err := QueryPrefix(m.template, prefixSystem, history)
		if err != nil {
			return nil, err
		}
		own := map[string]any{"temperature": 1.0, "top_p": 1.0, "num_predict": m.QueryMaxTokens}
		if len(m.stops) > 0 {
			own["stop"] = m.stops
		}
		q, err := env.model().Generate(ctx, &local.GenerateRequest{Model: m.model, Prompt: prefix, Raw: true,
			Options: env.options(own), Seed: &seed})
		if err != nil {
			return nil, err
		}
		query := cleanQuery(q.Content, m.stops)
		switch {
		case query == "":
			return nil, reject(ReasonEmptyQuery)
		case q.Truncated():
			return nil, reject(ReasonQueryTruncated)
		}
		if turn == 0 {
			if !seen.add(query) {
				return nil, reject(ReasonDuplicateQuery)
			}
			first = query
		}
		conv = append(conv, local.Message{Role: "user", Content: query})
		answer, _, err := env.answer(ctx, m.model, conv, map[string]any{"temperature": 0}, seed)
		if err != nil {
			return nil, err
		}
		conv = append(conv, local.Message{Role: "assistant", Content: answer})
	}
	return conv, nil
}

// cleanQuery trims what a model may add after its query in raw mode: an
// echoed end-of-turn marker or the start of the assistant turn.
func cleanQuery(s string, stops []string) string {
	s = strings.TrimSpace(s)
	for _, cut := range append([]string{"<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "[/INST]", "</s>"}, stops...) {
		if i := strings.Index(s, cut); i >= 0 {
			s = s[:i]
		}
	}
	return strings.TrimSpace(s)
}
