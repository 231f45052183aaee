package prompts

// Every reason a unit can be rejected for, as the journal, the summary and
// the dataset card name it. Add new reasons here, with their meaning in
// [ReasonMeanings].
const (
	// Shared by every method.
	ReasonInvalid       = "invalid_output"
	ReasonPromptTooLong = "prompt_too_long"
	ReasonOverTarget    = "over_target"
	ReasonNoRows        = "no_rows"
	ReasonEmptyResponse = "empty_response"
	ReasonTruncated     = "response_truncated"

	// Self-Instruct.
	ReasonLength       = "length"
	ReasonBlacklist    = "blacklisted_word"
	ReasonProgram      = "write_a_program"
	ReasonBadStart     = "bad_first_character"
	ReasonTooSimilar   = "too_similar"
	ReasonNoInstances  = "no_valid_instances"
	ReasonConflicting  = "conflicting_instances"
	ReasonNoCandidates = "no_candidates"

	// Evol-Instruct.
	ElimNoGain        = "no_information_gain"
	ElimApology       = "response_is_apology"
	ElimTooShort      = "response_too_short"
	ElimOnlyStopWords = "response_only_punctuation_and_stop_words"
	ElimLeak          = "prompt_wording_leaked"
	ElimAnswered      = "rewrite_is_an_answer"
	ElimInvalid       = ReasonInvalid

	// respond with references (Orca-style verification).
	ReasonDisagreesWithReference = "disagrees_with_reference"
	ReasonVerifyUnparseable      = "verification_unparseable"

	// Magpie.
	ReasonEmptyQuery     = "empty_query"
	ReasonQueryTruncated = "query_truncated"
	ReasonDuplicateQuery = "duplicate_query"
)

// ReasonMeanings says in one line what each rejection reason means; the
// summary and the dataset card print it next to the counts.
var ReasonMeanings = map[string]string{
	ReasonInvalid:       "the model's reply did not fit the JSON schema, even after retries with new seeds",
	ReasonPromptTooLong: "the prompt did not fit the context window (--num-ctx)",
	ReasonOverTarget:    "made after -n was reached; dropped so the run stops at exactly -n",
	ReasonNoRows:        "the unit finished without a record",
	ReasonEmptyResponse: "the model's answer was empty, even after retries with new seeds",
	ReasonTruncated:     "the answer was cut off at --num-predict",

	ReasonLength:       "self-instruct: the task had 3 words or fewer, or more than 150",
	ReasonBlacklist:    "self-instruct: the task needs something a text model cannot do (image, file, map, audio…)",
	ReasonProgram:      "self-instruct: the task starts with \"write a program\"",
	ReasonBadStart:     "self-instruct: the task starts with punctuation or a non-ASCII character",
	ReasonTooSimilar:   "self-instruct: ROUGE-L against an earlier task was above --rouge-threshold",
	ReasonNoInstances:  "self-instruct: no usable input/output example was written for the task",
	ReasonConflicting:  "self-instruct: one input got two different outputs, so the task was dropped",
	ReasonNoCandidates: "self-instruct: the step's reply held no task",

	ElimNoGain:        "evol: the rewrite asks for the same thing as before (no information gain)",
	ElimApology:       "evol: the answer to the rewrite apologizes (\"sorry\") and is short",
	ElimTooShort:      "evol: the answer to the rewrite is empty",
	ElimOnlyStopWords: "evol: the answer to the rewrite is only punctuation and stop words",
	ElimLeak:          "evol: the rewrite copied the rewriting prompt's own scaffolding",
	ElimAnswered:      "evol: the model answered the prompt instead of rewriting it",

	ReasonDisagreesWithReference: "respond --verify: the answer disagrees with the task's known answer",
	ReasonVerifyUnparseable:      "respond --verify: the judge's verdict did not parse, even after retries",

	ReasonEmptyQuery:     "magpie: the model wrote an empty query",
	ReasonQueryTruncated: "magpie: the query ran past its token budget (--query-max-tokens)",
	ReasonDuplicateQuery: "magpie: the query repeats an earlier one exactly",
}

// Preferences (prefer).
const (
	ReasonJudgeUnparseable  = "judge_unparseable"
	ReasonJudgeWrongCount   = "judge_wrong_count"
	ReasonTooFewCompletions = "too_few_completions"
	ReasonJudgeBadRanking   = "judge_bad_ranking"
)

func init() {
	ReasonMeanings[ReasonJudgeUnparseable] = "prefer: the judge's reply held no usable verdict (neither the JSON schema nor the free-text parsers read it), even after retries with new seeds; the prompt yields no pair"
	ReasonMeanings[ReasonJudgeWrongCount] = "prefer: the judge rated a different number of completions than it was shown; the prompt yields no pair"
	ReasonMeanings[ReasonTooFewCompletions] = "prefer: fewer than two completions of the prompt survived (the others were empty, cut off or too long), so nothing could be compared"
	ReasonMeanings[ReasonJudgeBadRanking] = "prefer: the judge's ranking was not an order of all the answers (a number missing or repeated)"
}

// Critique (Constitutional AI critique → revision) and RLAIF labels.
const (
	ReasonCritiqueOffFormat = "critique_off_format"
	ReasonRevisionOffFormat = "revision_off_format"
	ReasonCritiqueNoRounds  = "no_round_succeeded"
	ReasonLabelOffFormat    = "label_off_format"
	ReasonLabelTie          = "label_tie"
	ReasonUnstablePrinciple = "unstable_principle"
)

func init() {
	ReasonMeanings[ReasonCritiqueOffFormat] = "critique: a round's critique was empty or off-format (under three words), even after retries with new seeds; the trace went on from the latest answer"
	ReasonMeanings[ReasonRevisionOffFormat] = "critique: a round's revision was empty, repeated the critique or only said nothing needed changing, even after retries with new seeds; the trace went on from the latest answer"
	ReasonMeanings[ReasonCritiqueNoRounds] = "critique: every critique → revision round of the prompt failed, so there was no trace to write"
	ReasonMeanings[ReasonLabelOffFormat] = "rlaif: the judge never answered A or B for one of the two orders, even after retries with new seeds"
	ReasonMeanings[ReasonLabelTie] = "rlaif: the soft label was too close to 50% to pick a chosen answer (kept in the ratings config)"
	ReasonMeanings[ReasonUnstablePrinciple] = "rlaif: the pair was labelled under a principle whose verdict flipped more often than --drop-unstable when the answers swapped places (kept in the ratings config)"
}

// The novelty filter (--diversity novelty), for every method.
const (
	// ReasonNearDuplicate rejects a record whose embedding is too close to
	// an accepted one.
	ReasonNearDuplicate = "near_duplicate"
)

func init() {
	ReasonMeanings[ReasonNearDuplicate] = "novelty filter: the embedding's cosine similarity to an accepted record was above --max-similarity"
}

// QDAIF (--diversity qd).
const (
	// ReasonQDNotBetter rejects a candidate whose cell already holds an
	// elite at least as good.
	ReasonQDNotBetter = "qd_not_better"
	// ReasonQDDuplicate rejects a candidate whose instruction repeats an
	// accepted one exactly.
	ReasonQDDuplicate = "qd_duplicate"
)

func init() {
	ReasonMeanings[ReasonQDNotBetter] = "qd: the judged cell already held an elite of equal or higher quality, so the candidate did not enter the archive"
	ReasonMeanings[ReasonQDDuplicate] = "qd: the candidate's instruction repeated one already in the archive's history"
}
