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
// # Embeddings and novelty
//
// [Store] keeps the embeddings of accepted records in memory: chromem-go
// holds the documents and answers exhaustive queries, an [Index] over the
// same vectors (a sign-bit prefilter with exact rescoring) answers the
// novelty filter's nearest-neighbour queries with the same decisions at a
// fraction of the cost. [Novelty] is the filter: near duplicates above a
// cosine threshold are refused, and admitted candidates are held as
// pending until settled, so concurrent workers cannot both admit
// near-copies. [HashedNGrams] is the built-in offline embedder; an Ollama
// model plugs in as an [EmbedFunc]. The store is rebuilt from the run's
// vectors file on resume (package prompts, NoveltyGate), never persisted
// by chromem-go.
//
// # Quality-diversity archive
//
// [Archive] is QDAIF's MAP-Elites archive over labelled axes: one elite per
// cell, replaced only by a strictly better one, with QD-score, coverage,
// least-tried target cells and LMX-near parents. It is pure bookkeeping;
// the loop that asks models lives in package prompts (QD).
//
// This package never imports prompts or cmd.
package diversity
