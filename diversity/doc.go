// Package diversity keeps generated data diverse while it is generated.
//
// # Near duplicates
//
// [Pool] is Self-Instruct's ROUGE-L filter made fast: every instruction is
// tokenized once and interned to integers, candidates are pruned by length
// and bag-of-words upper bounds before a bit-parallel LCS, and big pools
// are scanned in parallel. [RougeL] is the plain reference it is tested
// against.
//
// The embedding store (chromem-go), the novelty filter and the QDAIF
// archive arrive with the diversity issue; this package never imports
// prompts or cmd.
package diversity
