package diversity

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

// Slot fillers for the benchmark's instruction generator. The templates
// share their fixed words the way real Self-Instruct pools do ("Write a …
// about …"), so many entries overlap a candidate on common words and the
// cheap bounds have real work to do.
var benchWords = map[string][]string{
	"write":    {"Write", "Draft", "Compose", "Create", "Produce"},
	"tone":     {"funny", "formal", "short", "heartfelt", "persuasive", "gloomy", "cheerful", "sarcastic", "polite", "dramatic", "calm", "playful", "concise", "detailed", "friendly", "strict"},
	"form":     {"poem", "story", "letter", "speech", "blog post", "haiku", "limerick", "product review", "cover letter", "toast", "news report", "dialogue", "fable", "tweet", "song chorus", "press release", "eulogy", "riddle"},
	"audience": {"children", "a five year old", "new employees", "retirees", "college students", "software engineers", "a busy parent", "tourists", "nurses", "high school teachers", "a skeptical investor", "beginners", "experts", "my grandmother", "a sports fan", "small business owners", "first-time voters", "gardeners"},
	"topic": {"the ocean at night", "black holes", "photosynthesis", "the stock market", "climate change", "the French Revolution", "machine learning",
		"sourdough bread", "volcanoes", "the immune system", "electric cars", "honey bees", "the printing press", "quantum computing", "compound interest",
		"the water cycle", "ancient Rome", "jazz music", "plate tectonics", "vaccines", "the moon landing", "cryptocurrency", "rainforests", "the human heart",
		"chess openings", "solar panels", "inflation", "the Silk Road", "earthquakes", "coral reefs", "the internet", "penguins", "renewable energy",
		"the Renaissance", "sleep hygiene", "public libraries", "urban gardening", "the Olympic Games", "recycling plastic", "time zones", "origami",
		"the Great Wall of China", "meditation", "DNA replication", "supply chains", "hurricanes", "the periodic table", "social media", "coffee farming",
		"wind turbines", "the Roman alphabet", "tax returns", "migration of birds", "3D printing", "antibiotics", "the Cold War", "minimalism", "tides"},
	"n":        {"two", "three", "four", "five", "six", "seven", "ten", "2", "3", "5", "8"},
	"device":   {"an analogy", "a short example", "a table", "everyday language", "a metaphor", "a diagram described in words", "a question and answer format", "simple numbers"},
	"item":     {"movie review", "tweet", "email subject line", "customer complaint", "news headline", "product description", "restaurant review", "sentence", "support ticket", "song lyric", "book title", "job posting"},
	"labels":   {"positive or negative", "spam or not spam", "urgent or not urgent", "sports, politics or technology", "formal or informal", "fact or opinion", "happy, sad or angry", "question or statement", "billing, shipping or technical", "true or false"},
	"activity": {"studying for exams", "running a marathon", "saving money", "learning a language", "cooking for a crowd", "working from home", "moving house", "writing a novel", "training a puppy", "hiking in the mountains", "starting a podcast", "giving a presentation", "painting a room", "planning a wedding"},
	"situation": {"you only have one week", "money is tight", "you have small kids", "it is raining all day", "you live in a small apartment", "you are new to the city",
		"you work night shifts", "the deadline moved up", "you have no experience", "the internet is down"},
	"doc":    {"article", "email", "meeting notes", "paragraph", "research abstract", "customer review", "contract clause", "recipe", "speech transcript", "product manual", "press release"},
	"aspect": {"main argument", "key numbers", "tone", "action items", "risks", "costs", "benefits", "history", "open questions", "technical details", "environmental impact", "safety concerns"},
	"lang":   {"Spanish", "French", "German", "Japanese", "Italian", "Portuguese", "Korean", "Dutch", "Swahili", "Hindi", "Polish", "Turkish"},
	"code":   {"Python", "Go", "JavaScript", "Rust", "Java", "C", "SQL", "Ruby", "Bash", "TypeScript"},
	"codetask": {"reverses a linked list", "checks whether a string is a palindrome", "merges two sorted arrays", "counts word frequencies in a text", "finds the median of a list",
		"validates an email address", "computes the nth Fibonacci number", "removes duplicate rows", "parses a CSV line", "converts Celsius to Fahrenheit",
		"finds the longest common prefix", "rotates a matrix by 90 degrees", "flattens a nested list", "detects a cycle in a graph"},
	"business": {"bakery", "bike shop", "bookstore", "coffee cart", "dog grooming salon", "flower shop", "tea house", "repair cafe", "yoga studio", "toy store"},
	"product":  {"handmade candles", "vintage clothes", "organic snacks", "board games", "houseplants", "custom sneakers", "local honey", "used books", "phone cases", "wooden toys"},
	"place":    {"Lisbon", "Kyoto", "the Scottish Highlands", "Mexico City", "Cape Town", "Iceland", "New Orleans", "Vietnam", "the Alps", "Buenos Aires", "Istanbul", "Yellowstone"},
	"budget":   {"tight", "moderate", "generous", "student", "family"},
	"process": {"a bill becomes law", "a search engine ranks pages", "the heart pumps blood", "a vaccine trains the body", "bread rises", "a credit score is calculated",
		"a rainbow forms", "an airplane stays in the air", "a compiler turns code into a program", "the post office sorts letters", "a refrigerator keeps food cold"},
}

func init() {
	// The sentence grammar: an optional opener, a task, an optional
	// audience and an optional constraint. Empty alternatives make parts
	// optional; fillers may hold slots of their own.
	benchWords["instruction"] = []string{"{opener}{task}{for}.{constraint}"}
	benchWords["opener"] = []string{"", "", "", "", "Please ", "Could you ", "I need you to ", "For my class, ", "In plain words, ",
		"As a helpful assistant, ", "Quickly ", "Without bullet points, ", "Step by step, ", "Before Friday, "}
	benchWords["for"] = []string{"", "", "", " for {audience}", " aimed at {audience}", " so that {audience} can follow it", " that would interest {audience}"}
	benchWords["constraint"] = []string{"", "", "", " Keep it under {n} sentences.", " Use a {tone} tone.", " Mention {topic} at least once.",
		" End with a question.", " Include an example from {place}.", " Avoid jargon.", " Format the answer as {device}.", " Cite no sources.",
		" Make it rhyme.", " Do not exceed {n} paragraphs."}
	benchWords["task"] = []string{
		"{write} a {tone} {form} about {topic}",
		"explain {topic} in {n} sentences using {device}",
		"classify the following {item} as {labels}",
		"give {n} tips for {activity} when {situation}",
		"summarize the {doc} below, focusing on the {aspect}",
		"translate this {doc} into {lang}",
		"compare {topic} with {topic}",
		"what are the {aspect} of {topic}?",
		"plan a {n}-day trip to {place} on a {budget} budget",
		"write a {code} function that {codetask}",
		"suggest {n} {tone} names for a {business} that sells {product}",
		"rewrite this {item} to sound more {tone}",
		"is this claim about {topic} true or false",
		"create a {n}-question quiz about {topic}",
		"describe how {process}",
		"list the {aspect} to consider before {activity}",
		"draft an email announcing {topic}",
		"outline a lesson on {topic}",
		"design a weekly workout routine",
		"recommend {n} books about {topic}",
		"find the bug in this {code} code that {codetask}",
		"estimate the {aspect} of {activity}",
		"turn the {doc} into a checklist",
		"brainstorm {n} startup ideas involving {product}",
		"role-play a {business} owner answering a customer",
		"detect the language of the {item}",
		"extract every date mentioned in the {doc}",
		"argue for and against {topic}",
		"invent a board game based on {topic}",
		"proofread the {doc} and fix grammar mistakes",
	}
}

// benchInstruction expands the sentence grammar at random.
func benchInstruction(rng *rand.Rand) string {
	out := benchExpand(rng, "{instruction}")
	return strings.ToUpper(out[:1]) + out[1:]
}

func benchExpand(rng *rand.Rand, tmpl string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(tmpl, '{')
		if i < 0 {
			b.WriteString(tmpl)
			return b.String()
		}
		j := i + strings.IndexByte(tmpl[i:], '}')
		words := benchWords[tmpl[i+1:j]]
		b.WriteString(tmpl[:i])
		b.WriteString(benchExpand(rng, words[rng.IntN(len(words))]))
		tmpl = tmpl[j+1:]
	}
}

// benchParaphrase makes a near duplicate the way generators repeat
// themselves: a word dropped, one changed, a filler added.
func benchParaphrase(rng *rand.Rand, s string) string {
	words := strings.Fields(s)
	fillers := []string{"please", "briefly", "also", "really", "clearly", "simple"}
	for range 1 + rng.IntN(2) {
		j := rng.IntN(len(words))
		switch rng.IntN(3) {
		case 0:
			if len(words) > 4 {
				words = append(words[:j], words[j+1:]...)
			}
		case 1:
			words[j] = fillers[rng.IntN(len(fillers))]
		default:
			words = append(words[:j], append([]string{fillers[rng.IntN(len(fillers))]}, words[j:]...)...)
		}
	}
	return strings.Join(words, " ")
}

// benchInstructions is a deterministic pool of 100k instructions, one in
// ten a paraphrase of an earlier one; smaller pools are its prefixes.
var benchInstructions = sync.OnceValue(func() []string {
	rng := rand.New(rand.NewPCG(42, 1))
	out := make([]string, 100_000)
	for i := range out {
		if i > 0 && rng.IntN(10) == 0 {
			out[i] = benchParaphrase(rng, out[rng.IntN(i)])
		} else {
			out[i] = benchInstruction(rng)
		}
	}
	return out
})

// benchCandidates alternates fresh instructions with paraphrases of pool
// entries, so any prefix of it (the naive benchmark at 100k only gets
// through a few) has the same mix of kept and rejected candidates.
func benchCandidates(poolSize int) []string {
	rng := rand.New(rand.NewPCG(7, uint64(poolSize)))
	pool := benchInstructions()[:poolSize]
	out := make([]string, 512)
	for i := range out {
		if i%2 == 0 {
			out[i] = benchInstruction(rng)
		} else {
			out[i] = benchParaphrase(rng, pool[rng.IntN(poolSize)])
		}
	}
	return out
}

var benchPools sync.Map // pool size → *Pool

func benchPool(size int) *Pool {
	if p, ok := benchPools.Load(size); ok {
		return p.(*Pool)
	}
	p := NewPool()
	for _, s := range benchInstructions()[:size] {
		p.Add(s)
	}
	benchPools.Store(size, p)
	return p
}

var benchSink int

// BenchmarkRougeFilter times one Self-Instruct filter decision (is the
// candidate's ROUGE-L F above 0.7 against any pool entry?) per operation.
// naive tokenizes everything and runs the full dynamic program against
// every entry; fast-1 is the Pool on one goroutine, fast on GOMAXPROCS;
// maxscore is Pool.MaxScore, the exact maximum rather than the decision.
// scripts/bench-rouge.sh runs them side by side.
func BenchmarkRougeFilter(b *testing.B) {
	sizes := []int{10_000, 100_000}
	variants := []struct {
		name string
		run  func(b *testing.B, size int, cands []string)
	}{
		{"naive", func(b *testing.B, size int, cands []string) {
			pool := benchInstructions()[:size]
			i := 0
			for b.Loop() {
				if score, _ := naiveMaxScore(pool, cands[i%len(cands)]); score > DefaultRougeThreshold {
					benchSink++
				}
				i++
			}
		}},
		{"fast-1", func(b *testing.B, size int, cands []string) {
			p := benchPool(size)
			p.SetWorkers(1)
			defer p.SetWorkers(0)
			i := 0
			for b.Loop() {
				if p.IsNearDuplicate(cands[i%len(cands)], DefaultRougeThreshold) {
					benchSink++
				}
				i++
			}
		}},
		{"fast", func(b *testing.B, size int, cands []string) {
			p := benchPool(size)
			i := 0
			for b.Loop() {
				if p.IsNearDuplicate(cands[i%len(cands)], DefaultRougeThreshold) {
					benchSink++
				}
				i++
			}
		}},
		{"maxscore", func(b *testing.B, size int, cands []string) {
			p := benchPool(size)
			i := 0
			for b.Loop() {
				if _, j := p.MaxScore(cands[i%len(cands)]); j >= 0 {
					benchSink++
				}
				i++
			}
		}},
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			for _, size := range sizes {
				cands := benchCandidates(size)
				b.Run(fmt.Sprintf("pool=%dk", size/1000), func(b *testing.B) { v.run(b, size, cands) })
			}
		})
	}
}

// TestBenchCandidatesMix checks that the benchmark's candidates are the
// intended mix: paraphrases rejected, a good share of fresh ones kept.
func TestBenchCandidatesMix(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 10k pool")
	}
	p := benchPool(10_000)
	cands := benchCandidates(10_000)
	var dupFresh, dupPara int
	for i, c := range cands {
		if p.IsNearDuplicate(c, DefaultRougeThreshold) {
			if i%2 == 0 {
				dupFresh++
			} else {
				dupPara++
			}
		}
	}
	t.Logf("rejected: %d/%d fresh, %d/%d paraphrases", dupFresh, len(cands)/2, dupPara, len(cands)/2)
	// Templated text shares many words, so ROUGE-L rejects a good part of
	// the fresh ones too, as it does in real Self-Instruct pools.
	if dupPara < len(cands)/2*8/10 || dupFresh > len(cands)/2*8/10 {
		t.Errorf("unexpected mix: %d fresh and %d paraphrases rejected", dupFresh, dupPara)
	}
}
