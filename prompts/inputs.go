package prompts

import "synthkit/prompts/inputs"

// LoadPrompts reads the prompts a method works on, through the one input
// loader ([inputs.Load]; its package documentation lists the formats):
// JSON Lines, a JSON array, CSV/TSV, plain text (one prompt per non-blank
// line), Parquet, a dataset folder, a synthkit run directory (the
// prompt of every accepted unit's first row, so `respond --prompts
// out/instr` answers a previous run's instructions), or "-" for standard
// input. Each prompt is a record's last user message.
//
// Errors are *inputs.InputError and name the file and line (or row).
func LoadPrompts(path string) ([]string, error) {
	set, err := inputs.Load(path, inputs.Options{})
	if err != nil {
		return nil, err
	}
	return set.Prompts(), nil
}
