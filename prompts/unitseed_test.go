package prompts

import "testing"

// TestUnitSeedGolden pins UnitSeed: a unit's sampling seed must be the
// same in every build, or a resumed or re-run dataset stops being
// reproducible (the seed column would disagree with what a rerun samples).
// The values are FNV-1a 64 of "runSeed/unit", masked to 31 bits for
// llama.cpp; change them only with a note that old runs cannot be redone.
func TestUnitSeedGolden(t *testing.T) {
	for _, tt := range []struct {
		run  int64
		unit string
		want int64
	}{
		{0, "sft-000000", 1625457186},
		{42, "sft-000000", 1253583310},
		{42, "sft-000001", 1253583745},
		{-7, "respond-000003/m1", 557752046},
		{9223372036854775807, "évol/0/round-2", 1328107182},
		{1, "", 884610185},
	} {
		got := UnitSeed(tt.run, tt.unit)
		if got != tt.want {
			t.Errorf("UnitSeed(%d, %q) = %d, want %d", tt.run, tt.unit, got, tt.want)
		}
		if got < 0 || got > 0x7fffffff {
			t.Errorf("UnitSeed(%d, %q) = %d, outside llama.cpp's 31-bit seeds", tt.run, tt.unit, got)
		}
	}
}
