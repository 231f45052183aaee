// Package prompts holds synthkit's methods. Each method is a prompt
// program: its templates (embedded files in our own wording), the JSON
// schemas it asks the model to fill, the parsers and filters, and the loop
// that drives it through a [local.Model] into an [export.Run] journal.
//
// # Units and resume
//
// Every piece of work has a stable unit id derived from the run seed and
// its index ("si-000042-3"), and its own sampling seed derived from both.
// A unit is journaled (accepted with rows, or rejected with a reason)
// before it counts as done, so rerunning a command skips finished units
// and redoes only what was in flight.
package prompts
