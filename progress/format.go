package progress

import (
	"fmt"
	"strings"
	"time"
)

// rates turns snapshots into speeds. ETA counts only what this invocation
// did, from the first snapshot on, so a resumed run that starts at 900/1000
// does not claim it made 900 records in its first second.
type rates struct {
	first Snapshot
	seen  bool
}

// observe records s as the baseline if it is the first snapshot.
func (r *rates) observe(s Snapshot) {
	if !r.seen {
		r.first, r.seen = s, true
	}
}

// eta is the time left at this invocation's average pace; ok is false
// while there is no pace yet (or no target).
func (r *rates) eta(s Snapshot) (left time.Duration, ok bool) {
	if s.Target <= 0 {
		return 0, false
	}
	if s.Done >= s.Target {
		return 0, true
	}
	made := s.Done - r.first.Done
	took := s.Elapsed - r.first.Elapsed
	if !r.seen || made <= 0 || took <= 0 {
		return 0, false
	}
	perUnit := took / time.Duration(made)
	return perUnit * time.Duration(s.Target-s.Done), true
}

// tokensPerSecond is the output tokens of this invocation per second.
func tokensPerSecond(s Snapshot) float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.OutputTokens) / s.Elapsed.Seconds()
}

// countText is "12/40 (30%)", or "12" without a target.
func countText(s Snapshot) string {
	if s.Target <= 0 {
		return fmt.Sprintf("%d", s.Done)
	}
	pct := 100 * float64(s.Done) / float64(s.Target)
	return fmt.Sprintf("%d/%d (%.0f%%)", s.Done, s.Target, min(pct, 100))
}

// detailText is everything after the count: accepted/rejected, speed, ETA,
// concurrency and the method's status.
func detailText(s Snapshot, eta time.Duration, etaOK bool) string {
	parts := []string{
		fmt.Sprintf("accepted %d", s.Accepted),
		fmt.Sprintf("rejected %d", s.Rejected),
		fmt.Sprintf("%.0f tok/s", tokensPerSecond(s)),
	}
	if etaOK {
		parts = append(parts, "ETA "+shortDuration(eta))
	} else {
		parts = append(parts, "ETA –")
	}
	parts = append(parts, fmt.Sprintf("concurrency %d", s.Concurrency))
	if s.Status != "" {
		parts = append(parts, s.Status)
	}
	return strings.Join(parts, "  ")
}

// line is the whole one-line form that plain logs print.
func line(name string, s Snapshot, eta time.Duration, etaOK bool) string {
	return name + "  " + countText(s) + "  " + detailText(s, eta, etaOK)
}

// shortDuration rounds to what a reader needs: seconds under an hour,
// minutes above.
func shortDuration(d time.Duration) string {
	if d < time.Hour {
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}

// endText is the last word on a stage: finished, or stopped and why.
func endText(err error) string {
	if err == nil {
		return "finished"
	}
	return "stopped: " + err.Error()
}
