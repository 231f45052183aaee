package progress

import (
	"testing"
	"time"
)

func TestETA(t *testing.T) {
	tests := []struct {
		name       string
		first, now Snapshot
		want       time.Duration
		wantKnown  bool
	}{
		{"no pace yet", Snapshot{Target: 100}, Snapshot{Target: 100, Elapsed: time.Second}, 0, false},
		{"no target", Snapshot{}, Snapshot{Done: 5, Elapsed: 5 * time.Second}, 0, false},
		{"steady pace", Snapshot{Target: 100}, Snapshot{Done: 10, Target: 100, Elapsed: 10 * time.Second}, 90 * time.Second, true},
		// A resumed run starts at 80: its pace is what this invocation made.
		{"resumed run", Snapshot{Done: 80, Target: 100, Elapsed: 0}, Snapshot{Done: 90, Target: 100, Elapsed: 20 * time.Second}, 20 * time.Second, true},
		{"target reached", Snapshot{Target: 10}, Snapshot{Done: 12, Target: 10, Elapsed: time.Second}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r rates
			r.observe(tt.first)
			r.observe(tt.now) // only the first one is the baseline
			got, ok := r.eta(tt.now)
			if got != tt.want || ok != tt.wantKnown {
				t.Fatalf("eta = %v, %v; want %v, %v", got, ok, tt.want, tt.wantKnown)
			}
		})
	}
}

func TestLineText(t *testing.T) {
	tests := []struct {
		name string
		s    Snapshot
		eta  time.Duration
		ok   bool
		want string
	}{
		{"full", Snapshot{Done: 12, Target: 40, Accepted: 12, Rejected: 3, OutputTokens: 5000, Elapsed: 10 * time.Second, Concurrency: 4, Status: "QD-score 41.2"},
			70 * time.Second, true, "magpie  12/40 (30%)  accepted 12  rejected 3  500 tok/s  ETA 1m10s  concurrency 4  QD-score 41.2"},
		{"no target, no eta", Snapshot{Done: 7, Accepted: 7, Concurrency: 2},
			0, false, "magpie  7  accepted 7  rejected 0  0 tok/s  ETA –  concurrency 2"},
		{"over target caps at 100%", Snapshot{Done: 45, Target: 40, Accepted: 45, Elapsed: time.Second},
			0, true, "magpie  45/40 (100%)  accepted 45  rejected 0  0 tok/s  ETA 0s  concurrency 0"},
		{"hours round to minutes", Snapshot{Done: 1, Target: 1000},
			3*time.Hour + 25*time.Minute + 10*time.Second, true, "magpie  1/1000 (0%)  accepted 0  rejected 0  0 tok/s  ETA 3h25m0s  concurrency 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := line("magpie", tt.s, tt.eta, tt.ok); got != tt.want {
				t.Fatalf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}
