package prompts

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"synthkit/local"
	"synthkit/local/ollamatest"
)

// The chat templates in testdata/chat_templates are reconstructed from
// the chat formats of llama3, llama3.1, qwen2.5, gemma, gemma2, mistral
// (v0.3) and phi3 as the Ollama library ships them, written from our
// knowledge of those formats rather than copied: llama3, gemma and phi3
// in the older .System/.Prompt/.Response form, the others over .Messages
// with tool-calling branches. Files end exactly where the template ends.
func readChatTemplate(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "chat_templates", name+".gotmpl"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const chatml = "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n"

func TestChatTemplatePrefixes(t *testing.T) {
	hi := []local.Message{{Role: "user", Content: "Hi"}, {Role: "assistant", Content: "Hello!"}}
	tests := []struct {
		name string
		src  string // template source; from testdata if empty
		// query is the prefix without a system prompt, withSystem the one
		// with "Be brief.", next the one after the exchange hi, reply the
		// prompt for answering "Hi", and stop the query's stop sequence.
		query, withSystem, next, reply, stop string
	}{
		{
			name:       "llama3",
			query:      "<|start_header_id|>user<|end_header_id|>\n\n",
			withSystem: "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n",
			next: "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>" +
				"<|start_header_id|>user<|end_header_id|>\n\n",
			reply: "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
			stop:  "<|eot_id|>",
		},
		{
			name:       "llama3.1",
			query:      "<|start_header_id|>user<|end_header_id|>\n\n",
			withSystem: "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n",
			next: "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>" +
				"<|start_header_id|>user<|end_header_id|>\n\n",
			reply: "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
			stop:  "<|eot_id|>",
		},
		{
			name:       "qwen2.5",
			query:      "<|im_start|>user\n",
			withSystem: "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n",
			next:       "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\n",
			reply:      "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
			stop:       "<|im_end|>",
		},
		{
			name: "gemma",
			// gemma has no system turn: the system prompt opens the user's.
			query:      "<start_of_turn>user\n",
			withSystem: "<start_of_turn>user\nBe brief. ",
			next:       "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n<start_of_turn>user\n",
			reply:      "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n",
			stop:       "<end_of_turn>",
		},
		{
			name:       "gemma2",
			query:      "<start_of_turn>user\n",
			withSystem: "<start_of_turn>user\nBe brief.<end_of_turn>\n<start_of_turn>user\n",
			next:       "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n<start_of_turn>user\n",
			reply:      "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n",
			stop:       "<end_of_turn>",
		},
		{
			name: "mistral",
			// mistral puts the system prompt inside the last [INST].
			query:      "[INST] ",
			withSystem: "[INST] Be brief.\n\n",
			next:       "[INST] Hi[/INST] Hello!</s>[INST] ",
			reply:      "[INST] Hi[/INST] ",
			stop:       "[/INST]",
		},
		{
			name:       "phi3",
			query:      "<|user|>\n",
			withSystem: "<|system|>\nBe brief.<|end|>\n<|user|>\n",
			next:       "<|user|>\nHi<|end|>\n<|assistant|>\nHello!<|end|>\n<|user|>\n",
			reply:      "<|user|>\nHi<|end|>\n<|assistant|>\n",
			stop:       "<|end|>",
		},
		{
			name:       "chatml",
			src:        chatml,
			query:      "<|im_start|>user\n",
			withSystem: "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n",
			next:       "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\n",
			reply:      "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
			stop:       "<|im_end|>",
		},
		{
			// The test fixture's template prints .System and then every
			// message, so Ollama shows a system prompt twice with it.
			name:  "ollamatest fixture",
			src:   ollamatest.ChatTemplate,
			query: "<|im_start|>user\n",
			withSystem: "<|im_start|>system\nBe brief.<|im_end|>\n" +
				"<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n",
			next:  "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\n",
			reply: "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
			stop:  "<|im_end|>",
		},
		{
			name:       "alpaca (older form, plain-text markers)",
			src:        "{{ if .System }}{{ .System }}\n\n{{ end }}### Instruction:\n{{ .Prompt }}\n\n### Response:\n{{ .Response }}\n\n",
			query:      "### Instruction:\n",
			withSystem: "Be brief.\n\n### Instruction:\n",
			next:       "### Instruction:\nHi\n\n### Response:\nHello!\n\n### Instruction:\n",
			reply:      "### Instruction:\nHi\n\n### Response:\n",
			stop:       "### Response:",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := tt.src
			if src == "" {
				src = readChatTemplate(t, tt.name)
			}
			ct, err := ParseChatTemplate(src)
			if err != nil {
				t.Fatal(err)
			}
			check := func(what, got, want string) {
				t.Helper()
				if got != want {
					t.Errorf("%s:\n got %q\nwant %q", what, got, want)
				}
			}
			got, err := QueryPrefix(src, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			check("query prefix", got, tt.query)
			got, err = QueryPrefix(src, "Be brief.", nil)
			if err != nil {
				t.Fatal(err)
			}
			check("query prefix with system", got, tt.withSystem)
			// A system message in the history is not added twice.
			got, err = QueryPrefix(src, "Be brief.", []local.Message{{Role: "system", Content: "Be brief."}})
			if err != nil {
				t.Fatal(err)
			}
			check("query prefix with system in history", got, tt.withSystem)
			got, err = ct.QueryPrefix(hi)
			if err != nil {
				t.Fatal(err)
			}
			check("next-turn prefix", got, tt.next)
			got, err = ct.Render(hi[:1])
			if err != nil {
				t.Fatal(err)
			}
			check("reply prompt", got, tt.reply)
			// The reply prompt is the query prefix, the query, and what
			// closes the user turn.
			check("query prefix + query + AfterQuery", tt.query+"Hi"+ct.AfterQuery(), tt.reply)
			check("query stop", ct.QueryStop(), tt.stop)
		})
	}
}

func TestChatTemplateUnusable(t *testing.T) {
	tests := []struct {
		name, src string
		reason    string // part of the TemplateError's reason
	}{
		{"empty", "", "no chat template"},
		{"blank", "  \n ", "no chat template"},
		{"base model", "{{ .Prompt }}", "opens the user turn"},
		{"messages without markers", "{{ range .Messages }}{{ .Content }}\n{{ end }}", "opens the user turn"},
		{"system only before the query", "{{ .System }}{{ .Prompt }}", "opens the user turn"},
		{"no close", "USER: {{ .Prompt }}", "closes the user turn"},
		{"ignores the user", "<|im_start|>assistant\n{{ .Response }}", "never shows the user's message"},
		{"syntax error", "{{ if .System }}unclosed", "cannot parse"},
		{"bad field use", "USER: {{ .Prompt.Foo }} ASSISTANT:", "cannot render"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseChatTemplate(tt.src)
			var te *TemplateError
			if !errors.As(err, &te) {
				t.Fatalf("err = %v, want a *TemplateError", err)
			}
			if !strings.Contains(te.Reason, tt.reason) {
				t.Errorf("reason %q does not mention %q", te.Reason, tt.reason)
			}
			// The convenience function reports the same error, cached or not.
			for range 2 {
				if _, err := QueryPrefix(tt.src, "", nil); !errors.As(err, &te) {
					t.Errorf("QueryPrefix err = %v, want a *TemplateError", err)
				}
			}
		})
	}
}

func TestChatTemplateNewerServers(t *testing.T) {
	// Functions and fields of Ollama releases newer than ours must not
	// break the parts of a template that Magpie needs.
	now = func() time.Time { return time.Date(2025, 3, 4, 0, 0, 0, 0, time.UTC) }
	t.Cleanup(func() { now = time.Now })
	src := "{{ if .Think }}think{{ end }}{{ if .Tools }}{{ someNewFunc .Tools }}{{ end }}" +
		"<|system|>Today is {{ currentDate }}.<|end|>\n" +
		"{{ range .Messages }}{{ if .ToolName }}tool{{ end }}{{ if .Thinking }}{{ .Thinking }}{{ end }}" +
		"<|{{ .Role }}|>\n{{ .Content }}<|end|>\n{{ end }}<|assistant|>\n"
	got, err := QueryPrefix(src, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := "<|system|>Today is 2025-03-04.<|end|>\n<|user|>\n"; got != want {
		t.Errorf("prefix = %q, want %q", got, want)
	}
}

func TestQueryPrefixHistoryEndingWithUser(t *testing.T) {
	_, err := QueryPrefix(chatml, "", []local.Message{{Role: "user", Content: "Hi"}})
	if err == nil || !strings.Contains(err.Error(), "ends with a user message") {
		t.Errorf("err = %v, want one about the history ending with a user message", err)
	}
}

func TestQueryPrefixNoTurnSeparator(t *testing.T) {
	// Only the first user turn is marked, so after a reply the new query
	// would run straight on from it: the model would keep replying.
	src := "{{ range $i, $_ := .Messages }}{{ if eq .Role \"user\" }}{{ if eq $i 0 }}USER: {{ end }}" +
		"{{ .Content }} ASSISTANT:{{ else }}{{ .Content }}{{ end }}{{ end }}"
	history := []local.Message{{Role: "user", Content: "Hi"}, {Role: "assistant", Content: "Hello"}}
	if _, err := QueryPrefix(src, "", nil); err != nil {
		t.Fatalf("first turn: %v", err)
	}
	_, err := QueryPrefix(src, "", history)
	var te *TemplateError
	if !errors.As(err, &te) || !strings.Contains(te.Reason, "separates") {
		t.Errorf("err = %v, want a *TemplateError about separating the turns", err)
	}
}
