package prompts

// SimilarityPool is the near-duplicate check Self-Instruct runs against
// every task so far: diversity's ROUGE-L pool in production.
type SimilarityPool interface {
	// Add puts a task into the pool.
	Add(text string)
	// MaxScore returns the highest ROUGE-L F of text against the pool and
	// the index of that task (-1 for an empty pool).
	MaxScore(text string) (float64, int)
}
