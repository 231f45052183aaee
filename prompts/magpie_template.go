package prompts

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"sync"
	"text/template"
	"text/template/parse"
	"time"

	"synthkit/local"
)

// TemplateError reports a chat template that cannot drive Magpie: there is
// none, it does not parse, or the user's text would not sit in a turn of
// its own (nothing before it opens the turn, or nothing after it closes
// it). Base models are the usual case: their template is "{{ .Prompt }}".
type TemplateError struct {
	// Reason says what is wrong, in words for the user.
	Reason string
	// Err is the underlying parse or execution error, if any.
	Err error
}

func (e *TemplateError) Error() string {
	msg := "chat template unusable for magpie: " + e.Reason
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *TemplateError) Unwrap() error { return e.Err }

// Sentinels stand in for message text while rendering; the prefixes are
// cut where they appear. Letters only, so that a template escaping its
// content (json, html) leaves them intact.
const (
	userSentinel     = "SYNTHKITSENTINELUSERQ7C1E"
	responseSentinel = "SYNTHKITSENTINELREPLY7C1E"
)

// ChatTemplate is a model's Ollama chat template (the "template" field of
// /api/show), parsed to render conversations into the raw prompt text the
// server would build from them. That text is what Magpie continues in raw
// mode: cut right where a user message would start, an aligned model
// writes a user query. Note the model's tokenizer may still add a BOS
// token in front of raw prompts; templates rarely contain it.
type ChatTemplate struct {
	tmpl *template.Template
	// messages is set when the template reads .Messages; otherwise it is
	// the older form that Ollama renders once per exchange with .System,
	// .Prompt and .Response.
	messages bool
	// afterQuery is what the template puts between a user message and
	// the assistant's reply.
	afterQuery string
}

// now is the clock behind the date functions templates may call.
var now = time.Now

// templateFuncs are the functions Ollama offers templates. Unknown ones
// (newer servers add more) get a stub at parse time instead of failing.
func templateFuncs() template.FuncMap {
	return template.FuncMap{
		"json": func(v any) string {
			b, _ := json.Marshal(v)
			return string(b)
		},
		"currentDate":      func() string { return now().Format("2006-01-02") },
		"yesterdayDate":    func() string { return now().AddDate(0, 0, -1).Format("2006-01-02") },
		"toTypeScriptType": func(v any) string { return "any" },
	}
}

var undefinedFunc = regexp.MustCompile(`function "([^"]+)" not defined`)

// ParseChatTemplate parses src and checks that it can give a Magpie
// prefix: it renders a lone user message and requires template text both
// before it (the opening of the user turn) and after it (its close). A
// problem is reported as a *[TemplateError].
func ParseChatTemplate(src string) (*ChatTemplate, error) {
	if strings.TrimSpace(src) == "" {
		return nil, &TemplateError{Reason: "the model has no chat template"}
	}
	funcs := templateFuncs()
	var tmpl *template.Template
	for {
		var err error
		tmpl, err = template.New("chat").Funcs(funcs).Parse(src)
		if err == nil {
			break
		}
		// A function of a newer Ollama than we know: stub it and retry, so
		// the parts of the template we need still render.
		m := undefinedFunc.FindStringSubmatch(err.Error())
		if m == nil || funcs[m[1]] != nil {
			return nil, &TemplateError{Reason: "cannot parse the template", Err: err}
		}
		funcs[m[1]] = func(...any) string { return "" }
	}
	t := &ChatTemplate{tmpl: tmpl, messages: readsMessages(tmpl)}

	out, err := t.Render([]local.Message{{Role: "user", Content: userSentinel}})
	if err != nil {
		return nil, err
	}
	before, after, found := strings.Cut(out, userSentinel)
	switch {
	case !found:
		return nil, &TemplateError{Reason: "the template never shows the user's message"}
	case strings.TrimSpace(before) == "":
		return nil, &TemplateError{Reason: "nothing in the template opens the user turn, so raw generation would not write a query"}
	case strings.TrimSpace(after) == "":
		return nil, &TemplateError{Reason: "nothing in the template closes the user turn, so a query would run into the reply"}
	}
	t.afterQuery = after
	return t, nil
}

// readsMessages reports whether any part of the template refers to a
// field named Messages, the test Ollama uses to pick the rendering form.
func readsMessages(tmpl *template.Template) bool {
	var walk func(n parse.Node) bool
	walkList := func(l *parse.ListNode) bool {
		if l == nil {
			return false
		}
		for _, n := range l.Nodes {
			if walk(n) {
				return true
			}
		}
		return false
	}
	walkPipe := func(p *parse.PipeNode) bool {
		if p == nil {
			return false
		}
		for _, c := range p.Cmds {
			for _, a := range c.Args {
				if walk(a) {
					return true
				}
			}
		}
		return false
	}
	hasMessages := func(idents []string) bool {
		for _, id := range idents {
			if strings.EqualFold(id, "Messages") {
				return true
			}
		}
		return false
	}
	walk = func(n parse.Node) bool {
		switch n := n.(type) {
		case *parse.ListNode:
			return walkList(n)
		case *parse.ActionNode:
			return walkPipe(n.Pipe)
		case *parse.IfNode:
			return walkPipe(n.Pipe) || walkList(n.List) || walkList(n.ElseList)
		case *parse.RangeNode:
			return walkPipe(n.Pipe) || walkList(n.List) || walkList(n.ElseList)
		case *parse.WithNode:
			return walkPipe(n.Pipe) || walkList(n.List) || walkList(n.ElseList)
		case *parse.TemplateNode:
			return walkPipe(n.Pipe)
		case *parse.PipeNode:
			return walkPipe(n)
		case *parse.FieldNode:
			return hasMessages(n.Ident)
		case *parse.VariableNode:
			return hasMessages(n.Ident)
		case *parse.ChainNode:
			return walk(n.Node) || hasMessages(n.Field)
		}
		return false
	}
	for _, t := range tmpl.Templates() {
		if t.Tree != nil && walk(t.Tree.Root) {
			return true
		}
	}
	return false
}

// Render returns the raw prompt Ollama builds from msgs for /api/chat:
// for a conversation ending in a user message, everything up to where the
// assistant's reply starts. Consecutive messages of one role are merged
// and system messages joined, as the server does.
func (t *ChatTemplate) Render(msgs []local.Message) (string, error) {
	system, merged := collate(msgs)
	var b strings.Builder
	if t.messages {
		list := make([]map[string]any, len(merged))
		for i, m := range merged {
			list[i] = messageData(m)
		}
		data := templateData()
		data["System"] = system
		data["Messages"] = list
		if err := t.tmpl.Execute(&b, data); err != nil {
			return "", &TemplateError{Reason: "cannot render the template", Err: err}
		}
		return b.String(), nil
	}

	// The older form renders one exchange (system, prompt, response) at a
	// time; a system or user message after a finished part starts the next.
	var sys, prompt, response string
	flush := func(resp string) error {
		data := templateData()
		data["System"], data["Prompt"], data["Response"] = sys, prompt, resp
		sys, prompt, response = "", "", ""
		if err := t.tmpl.Execute(&b, data); err != nil {
			return &TemplateError{Reason: "cannot render the template", Err: err}
		}
		return nil
	}
	for _, m := range merged {
		switch m.Role {
		case "system":
			if prompt != "" || response != "" {
				if err := flush(response); err != nil {
					return "", err
				}
			}
			sys = m.Content
		case "user":
			if response != "" {
				if err := flush(response); err != nil {
					return "", err
				}
			}
			prompt = m.Content
		case "assistant":
			response = m.Content
		}
	}
	// The last exchange stops where its response would go (after the
	// response so far, if the conversation ends with one), which leaves
	// the assistant's turn open.
	start := b.Len()
	if err := flush(response + responseSentinel); err != nil {
		return "", err
	}
	out := b.String()
	if i := strings.Index(out[start:], responseSentinel); i >= 0 {
		out = out[:start+i]
	}
	return out, nil
}

// QueryPrefix returns the raw prompt that opens a new user turn after
// history (empty, system messages only, or ending with an assistant
// reply): Magpie generates from it in raw mode and the model writes the
// user's next message.
func (t *ChatTemplate) QueryPrefix(history []local.Message) (string, error) {
	var last *local.Message
	for i := range history {
		if history[i].Role != "system" {
			last = &history[i]
		}
	}
	if last != nil && last.Role == "user" {
		return "", errors.New("magpie prefix: the history ends with a user message, so the next turn is the assistant's")
	}
	msgs := append(append([]local.Message(nil), history...), local.Message{Role: "user", Content: userSentinel})
	out, err := t.Render(msgs)
	if err != nil {
		return "", err
	}
	prefix, _, found := strings.Cut(out, userSentinel)
	if !found {
		return "", &TemplateError{Reason: "the template never shows the user's message"}
	}
	// Between the previous reply and the new query the template must put
	// something, or the model would just keep writing its reply.
	if last != nil && last.Content != "" {
		if i := strings.LastIndex(prefix, last.Content); i >= 0 && strings.TrimSpace(prefix[i+len(last.Content):]) == "" {
			return "", &TemplateError{Reason: "nothing in the template separates the assistant's reply from the next user turn"}
		}
	}
	return prefix, nil
}

// AfterQuery is the template text between a user message and the
// assistant's reply, e.g. "<|im_end|>\n<|im_start|>assistant\n" for chatml.
func (t *ChatTemplate) AfterQuery() string { return t.afterQuery }

// QueryStop is a stop sequence that ends a raw-generated query: the first
// marker of [ChatTemplate.AfterQuery], such as "<|im_end|>", "<|eot_id|>"
// or "[/INST]" (a bracketed token), or else its first line.
func (t *ChatTemplate) QueryStop() string {
	s := strings.TrimLeft(t.afterQuery, " \t\r\n")
	if len(s) > 1 {
		if closing, ok := map[byte]byte{'<': '>', '[': ']'}[s[0]]; ok {
			if i := strings.IndexByte(s, closing); i > 0 {
				return s[:i+1]
			}
		}
	}
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

var chatTemplates sync.Map // template source → *ChatTemplate or error

// QueryPrefix is the Magpie pre-query prefix for a model whose Ollama chat
// template is tmpl: the raw text of history followed by an opened user
// turn. system, if not empty and history has no system message, is put in
// front as one. Parsed templates are cached, so calling this per request
// is cheap.
func QueryPrefix(tmpl, system string, history []local.Message) (string, error) {
	t, err := cachedChatTemplate(tmpl)
	if err != nil {
		return "", err
	}
	if system != "" && !hasSystem(history) {
		history = append([]local.Message{{Role: "system", Content: system}}, history...)
	}
	return t.QueryPrefix(history)
}

func cachedChatTemplate(src string) (*ChatTemplate, error) {
	if v, ok := chatTemplates.Load(src); ok {
		if t, ok := v.(*ChatTemplate); ok {
			return t, nil
		}
		return nil, v.(error)
	}
	t, err := ParseChatTemplate(src)
	if err != nil {
		chatTemplates.Store(src, err)
		return nil, err
	}
	chatTemplates.Store(src, t)
	return t, nil
}

func hasSystem(msgs []local.Message) bool {
	for _, m := range msgs {
		if m.Role == "system" {
			return true
		}
	}
	return false
}

// collate merges consecutive messages of one role (joined by a blank
// line) and joins the contents of all system messages, which Ollama hands
// templates as .System while leaving the messages in .Messages.
func collate(msgs []local.Message) (string, []local.Message) {
	var system []string
	var out []local.Message
	for _, m := range msgs {
		if m.Role == "system" {
			system = append(system, m.Content)
		}
		if n := len(out); n > 0 && out[n-1].Role == m.Role {
			out[n-1].Content += "\n\n" + m.Content
			continue
		}
		out = append(out, m)
	}
	return strings.Join(system, "\n\n"), out
}

// templateData is the top-level data with every field some Ollama version
// passes, zero-valued, so templates written for any of them render. A
// field nobody passes is a missing map key: false in a condition, and
// "<no value>" if printed, the same as on the server.
func templateData() map[string]any {
	return map[string]any{
		"System":     "",
		"Prompt":     "",
		"Response":   "",
		"Suffix":     "",
		"Messages":   []map[string]any(nil),
		"Tools":      []any(nil),
		"Think":      false,
		"ThinkLevel": "",
		"IsThinkSet": false,
	}
}

// messageData is one message as templates see it, again with the fields
// of every Ollama version.
func messageData(m local.Message) map[string]any {
	return map[string]any{
		"Role":       m.Role,
		"Content":    m.Content,
		"Images":     []any(nil),
		"ToolCalls":  []any(nil),
		"Thinking":   "",
		"ToolName":   "",
		"ToolCallID": "",
	}
}
