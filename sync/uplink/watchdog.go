package uplink

import (
	"context"
	"io"
	"sync"
	"time"
)

// watchdog cancels a request when no byte of its body or its answer has
// moved for d: a slow link that keeps moving is never cut, a stalled one
// is (the tus rule). It arms at creation, every read through reader re-arms
// it, and stop disarms it. It runs no goroutine of its own: the timer's
// function runs once, briefly, if the request stalls.
type watchdog struct {
	d      time.Duration
	mu     sync.Mutex
	t      *time.Timer
	closed bool
}

func newWatchdog(d time.Duration, cancel context.CancelCauseFunc) *watchdog {
	w := &watchdog{d: d}
	w.t = time.AfterFunc(d, func() { cancel(ErrStalled) })
	return w
}

// kick re-arms the timer: a byte moved.
func (w *watchdog) kick() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Reset(w.d)
	}
}

func (w *watchdog) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	w.t.Stop()
}

// reader returns r whose every read that moves bytes kicks the watchdog.
func (w *watchdog) reader(r io.Reader) io.Reader { return &progressReader{r: r, w: w} }

type progressReader struct {
	r io.Reader
	w *watchdog
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.w.kick()
	}
	return n, err
}
