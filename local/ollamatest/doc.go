// Package ollamatest is synthkit's real-Ollama test rig. Tests of other
// packages import it to talk to a real `ollama serve` (v0.6.5 or newer)
// loaded with a tiny model this package writes itself, instead of a fake of
// Ollama's HTTP API.
//
// # Shared server
//
// scripts/test.sh builds or finds ollama, starts one server per test run on
// a free loopback port with an empty models directory, and exports its URL
// as $SYNTHKIT_TEST_OLLAMA. [Host] returns that URL after registering
// [TinyModel] and [TinyModelB] there (once per test process):
//
//	func TestSomething(t *testing.T) {
//		host := ollamatest.Host(t)
//		c := ollamatest.NewClient(t, host) // or synthkit's own client
//		...
//	}
//
// Without $SYNTHKIT_TEST_OLLAMA, Host skips under -short and fails
// otherwise, so CI never skips the real-server tests by accident.
//
// # Private servers
//
// Tests that kill or restart a server use [StartServer], which runs another
// `ollama serve` from $SYNTHKIT_OLLAMA_BIN with its own port and models
// directory; [Server.Kill] and [Server.Restart] simulate a crash and a
// recovery on the same address.
//
// # Faults
//
// [StartFaultProxy] puts a proxy in front of a server that resets
// connections, cuts replies on the wire or inside the JSON, answers 500 or
// stalls past a timeout, on a fixed [FaultOptions.Schedule] or at random
// [FaultOptions.Rates]; [FaultCounts] says what it injected. Client tests
// and CLI fault campaigns point at its URL instead of the server's.
//
// # The fixture model
//
// [WriteGGUF] writes a llama-architecture GGUF (n_embd 64, 2 blocks, 4
// heads, F32, ~700 KB) with random weights from a seed and a SentencePiece
// vocabulary of control tokens, the 256 byte tokens, punctuation, digits and
// a few hundred English words. It is registered with a chatml template
// ([ChatTemplate]) and the stop sequence <|im_end|>. Its text is gibberish
// made of words, but it behaves like a chat model where plumbing tests need
// it to:
//
//   - free chat ends by itself, usually after 10 to 100 tokens;
//   - JSON-schema structured output closes its strings and objects well
//     before num_predict 256 and parses;
//   - raw generation (Magpie-style template prefixes) works;
//   - /api/embed returns unit vectors of [EmbeddingLength] dimensions;
//   - the same seed and prompt give the same reply, and the two models
//     give different ones.
//
// Content checks belong in tests with a scripted model, not here.
//
// The fixture runs with num_thread 1: on a two-core machine two ggml threads
// spin-wait on each other as soon as anything else runs, and decoding drops
// from thousands of tokens per second to a handful.
package ollamatest
