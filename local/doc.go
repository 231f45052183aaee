// Package local is everything synthkit knows about models: the Ollama client
// (several hosts at once), finding or starting a server, pulling models,
// digests for provenance, the request scheduler (bounded continuous
// concurrency, retries with backoff, automatic concurrency), structured-output
// calls validated against a JSON schema, raw generation and embeddings.
//
// # Model
//
// Methods in package prompts talk to models only through the [Model]
// interface, so content logic can be tested with a scripted model while
// plumbing is tested against a real Ollama server through [Client].
//
// # Timeouts
//
// Nothing in this package sets an HTTP timeout: each request gets a deadline
// from [SchedulerOptions.RequestTimeout], and callers cancel through ctx.
package local
