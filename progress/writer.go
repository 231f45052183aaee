package progress

import (
	"bytes"
	"io"
	"sync"
)

// LogWriter turns writes into messages: each complete line goes to logf.
// It lets code that prints to an io.Writer (server notices, a recipe
// stage's export listing) speak through a Display instead of drawing
// over its live lines.
func LogWriter(logf func(format string, args ...any)) io.Writer {
	return &logWriter{logf: logf}
}

type logWriter struct {
	mu      sync.Mutex
	logf    func(format string, args ...any)
	pending []byte
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pending = append(w.pending, p...)
	for {
		i := bytes.IndexByte(w.pending, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.logf("%s", w.pending[:i])
		w.pending = w.pending[i+1:]
	}
}
