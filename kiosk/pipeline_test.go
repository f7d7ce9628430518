package kiosk_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"kioskd/kiosk"
)

// lockedBuffer is a log destination for goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestPipelinePanicSurvived: a panic in each step of the photo pipeline
// (the live analysis, a capture, a calibration, the wall's drift) fails
// that step with ErrPipelinePanic, is logged once with its stack, and the
// station goes on: the same steps work again once the panic stops.
func TestPipelinePanicSurvived(t *testing.T) {
	src := &loopSource{f: demoFrame(t, 10*time.Second)} // a student, settled
	var logs lockedBuffer
	st := kiosk.NewStation(src, slog.New(slog.NewTextHandler(&logs, nil)))
	st.AnalysisRate = 10
	st.StatsInterval = 100 * time.Millisecond
	var breaking atomic.Value // the step that panics
	breaking.Store("frame analysis")
	var calls sync.Map // step -> *atomic.Int32
	kiosk.SetPipelineHook(st, func(during string) {
		n, _ := calls.LoadOrStore(during, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		if breaking.Load() == during {
			panic("test panic in " + during)
		}
	})
	called := func(during string) int32 {
		n, ok := calls.Load(during)
		if !ok {
			return 0
		}
		return n.(*atomic.Int32).Load()
	}
	sub := st.Subscribe()
	runStation(t, st)

	// The live analysis: frames fail one after another, then pass again.
	feedback := func(e kiosk.Event) (kiosk.Feedback, bool) {
		fb, ok := e.Data.(kiosk.Feedback)
		return fb, ok && e.Type == kiosk.EventFeedback
	}
	for range 3 {
		waitFor(t, sub, 30*time.Second, "a frame failed by the panic", func(e kiosk.Event) bool {
			fb, ok := feedback(e)
			return ok && strings.Contains(fb.Error, "internal error in the photo pipeline")
		})
	}
	breaking.Store("")
	waitFor(t, sub, 30*time.Second, "a frame analysed again", func(e kiosk.Event) bool {
		fb, ok := feedback(e)
		return ok && fb.Error == "" && fb.Faces == 1
	})
	sub.Close() // the captures below take seconds under -race; nobody reads

	// A capture: refused with the operator's hint; the next one works.
	breaking.Store("capture")
	c, err := st.Capture(t.Context(), false)
	if err != nil || c.State != kiosk.CaptureRefused || c.Refusal == nil || c.Refusal.Code != "internal" ||
		c.Refusal.Hint.Zh == "" || !strings.Contains(c.Problem, "internal error") {
		t.Fatalf("Capture while the pipeline panics = %+v (refusal %+v), %v; want refused, code internal, with a hint", c, c.Refusal, err)
	}
	breaking.Store("")
	if c, err := st.Capture(t.Context(), false); err != nil || c.State != kiosk.CaptureReview {
		t.Fatalf("the next Capture = %+v (refusal %+v), %v; want a photo under review", c, c.Refusal, err)
	}

	// A calibration of the empty booth: the error, then a calibration.
	src.set(demoFrame(t, 500*time.Millisecond))
	waitFrames(t, st)
	breaking.Store("calibration")
	if _, err := st.Calibrate(t.Context()); !errors.Is(err, kiosk.ErrPipelinePanic) {
		t.Fatalf("Calibrate while the pipeline panics = %v; want ErrPipelinePanic", err)
	}
	breaking.Store("")
	if cs, err := st.Calibrate(t.Context()); err != nil || !cs.Calibrated {
		t.Fatalf("the next Calibrate = %+v, %v; want calibrated", cs, err)
	}

	// The drift measure, once a stats interval, panics twice and the
	// station still answers.
	breaking.Store("wall drift")
	before := called("wall drift")
	deadline := time.Now().Add(30 * time.Second)
	for called("wall drift") < before+2 {
		if time.Now().After(deadline) {
			t.Fatal("the drift was not measured twice in 30 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := st.Healthy(); err != nil {
		t.Errorf("Healthy after the panics = %v", err)
	}

	out := logs.String()
	for _, step := range []string{"frame analysis", "capture", "calibration", "wall drift"} {
		if n := strings.Count(out, `panic="test panic in `+step+`"`); n != 1 {
			t.Errorf("%d panic lines for %s; want one (more are held back for a minute):\n%s", n, step, out)
		}
	}
	if !strings.Contains(out, "test panic in capture") || !strings.Contains(out, "goroutine") {
		t.Errorf("the log lacks the panic's value or its stack:\n%s", out)
	}
}
