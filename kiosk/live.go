package kiosk

import (
	"context"
	"errors"
	"time"

	"kioskd/kiosk/photo"
)

// Live analysis defaults.
const (
	// DefaultAnalysisRate is how many frames a second the station analyses.
	DefaultAnalysisRate = 15
	// DefaultCountdown is how long the auto-capture countdown runs once
	// every check has held for the hold time.
	DefaultCountdown = 3 * time.Second
)

// More event types.
const (
	EventFeedback  = "feedback"  // Data is a Feedback, for every analysed frame
	EventCountdown = "countdown" // Data is a Countdown
)

// Feedback is the framing verdict on one analysed frame: the checks with
// their hints, and the geometry the operator's screen draws over the
// preview (the spec's crop window and bands, in frame pixels of the upright
// picture; see photo.Geometry).
type Feedback struct {
	// Seq and FrameTime identify the analysed frame.
	Seq       uint64    `json:"seq"`
	FrameTime time.Time `json:"frame_time"`
	// Spec is the template the checks used, and the background mode.
	Spec       SpecInfo `json:"spec"`
	Background string   `json:"background"`
	// Analysis is the verdict on this frame alone: ready, faces, checks,
	// geometry and measures. Analysis.Ready is true when every check
	// passes on this frame.
	photo.Analysis
	// Steady is true when every check has passed on every analysed frame
	// for Hold: the moment the station may capture by itself.
	Steady bool  `json:"steady"`
	HeldMS int64 `json:"held_ms"`
	HoldMS int64 `json:"hold_ms"`
	// LatencyMS is from the frame's arrival to this verdict.
	LatencyMS float64 `json:"latency_ms"`
	// Error is set, and Analysis empty, when the frame could not be
	// analysed (a frame that does not decode); short, for the log.
	Error string `json:"error,omitempty"`
}

// SpecInfo names the template of a Feedback and its output size.
type SpecInfo struct {
	ID     string `json:"id"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
}

// CountdownState is where the auto-capture countdown stands.
type CountdownState string

// The countdown states.
const (
	CountdownRunning   CountdownState = "running"   // steady; counting down
	CountdownCancelled CountdownState = "cancelled" // a check failed before the end
	CountdownDone      CountdownState = "done"      // reached zero: time to capture
)

// Countdown is the auto-capture countdown: it starts when the framing turns
// steady, runs while it stays steady, and is cancelled when it does not.
// What "done" triggers (the capture) is the capture flow's business.
type Countdown struct {
	State       CountdownState `json:"state"`
	RemainingMS int64          `json:"remaining_ms"`
	TotalMS     int64          `json:"total_ms"`
}

// countdown follows the steady flag of successive feedbacks, in frame time.
type countdown struct {
	total   time.Duration
	running bool
	done    bool // reached zero; stays done until steadiness is lost
	start   time.Time
}

// update takes the steady flag of the frame at t and returns the
// countdown event to publish, if any.
func (c *countdown) update(t time.Time, steady bool) (Countdown, bool) {
	total := c.total.Milliseconds()
	switch {
	case !steady && (c.running || c.done):
		wasRunning := c.running
		c.running, c.done = false, false
		if wasRunning {
			return Countdown{State: CountdownCancelled, TotalMS: total}, true
		}
		return Countdown{}, false
	case !steady || c.done:
		return Countdown{}, false
	case !c.running:
		c.running, c.start = true, t
	}
	left := c.total - t.Sub(c.start)
	if left <= 0 {
		c.running, c.done = false, true
		return Countdown{State: CountdownDone, TotalMS: total}, true
	}
	return Countdown{State: CountdownRunning, RemainingMS: left.Milliseconds(), TotalMS: total}, true
}

// analyseLoop analyses the newest frame at most rate times a second until
// ctx is done. It reads the newest-wins slot like any preview client, so a
// slow analysis skips frames and never holds up the camera or the preview.
func (s *Station) analyseLoop(ctx context.Context, an *photo.Analyzer) {
	rate := s.AnalysisRate
	if rate == 0 {
		rate = DefaultAnalysisRate
	}
	spec := s.Spec
	if spec.ID == "" {
		spec, _ = photo.LookupSpec(photo.DefaultSpecID)
	}
	bg := s.Background
	if bg == "" {
		bg = photo.BackgroundReplace
	}
	ready := photo.Readiness{Hold: s.Hold}
	hold := s.Hold
	if hold <= 0 {
		hold = photo.DefaultHold
	}
	cd := countdown{total: s.Countdown}
	if cd.total <= 0 {
		cd.total = DefaultCountdown
	}
	info := SpecInfo{ID: spec.ID, Width: spec.Width, Height: spec.Height}

	period := time.Duration(float64(time.Second) / rate)
	var last uint64
	for {
		// Wait for a frame newer than the last analysed one, then for the
		// rest of the period, so that analysis never runs faster than rate.
		f, err := s.frames.next(ctx, last)
		if err != nil {
			return
		}
		last = f.Seq
		started := time.Now()
		if s.restartFraming.Swap(false) {
			ready.Reset()
		}

		fb := Feedback{Seq: f.Seq, FrameTime: f.Time, Spec: info, Background: string(bg), HoldMS: hold.Milliseconds()}
		var a photo.Analysis
		err = s.safely("frame analysis", func() (err error) {
			a, err = an.AnalyzeBytes(f.JPEG, photo.Options{Spec: spec, Background: bg, Rotation: f.Rotation})
			return err
		})
		if errors.Is(err, ErrPipelinePanic) {
			an = freshAnalyzer(an)
		}
		if err != nil {
			fb.Error = err.Error()
			s.analysisFailed(err)
			ready.Reset()
		} else {
			fb.Analysis = a
			fb.Steady = ready.Update(f.Time, a)
			fb.HeldMS = ready.HeldFor().Milliseconds()
		}
		now := time.Now()
		fb.LatencyMS = float64(now.Sub(f.Time).Microseconds()) / 1000
		s.hub.Publish(Event{Type: EventFeedback, Time: now, Data: fb})
		// The countdown runs only where it leads to a capture: with
		// AutoCapture off the screen says "ready" and the operator captures.
		if c, ok := cd.update(f.Time, fb.Steady && !s.inReview()); ok && s.AutoCapture {
			s.hub.Publish(Event{Type: EventCountdown, Time: now, Data: c})
			if c.State == CountdownDone {
				select {
				case s.autoCapture <- struct{}{}:
				default: // one is already asked for
				}
			}
		}
		s.mu.Lock()
		s.lastFeedback = &fb
		s.mu.Unlock()

		if wait := period - time.Since(started); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}

// analysisFailed logs an analysis failure, at most once a minute: a camera
// that sends undecodable frames would otherwise fill the journal.
func (s *Station) analysisFailed(err error) {
	s.mu.Lock()
	now := time.Now()
	quiet := now.Sub(s.lastAnalysisLog) < time.Minute
	if !quiet {
		s.lastAnalysisLog = now
	}
	s.mu.Unlock()
	if !quiet {
		s.logger.Warn("frame not analysed", "err", err)
	}
}
