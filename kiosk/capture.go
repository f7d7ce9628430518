package kiosk

import (
	"context"
	"errors"
	"fmt"
	"image"
	"time"

	"kioskd/kiosk/photo"
)

// EventCapture is published at every step of a capture; Data is a Capture.
const EventCapture = "capture"

// Capture defaults.
const (
	// DefaultRecentFrames is how many of the newest frames a capture
	// chooses from.
	DefaultRecentFrames = 6
	// recentWindow is how old a frame may be to still be a candidate.
	recentWindow = time.Second
)

// Capture errors that callers branch on.
var (
	// ErrCaptureBusy: a capture is already being made.
	ErrCaptureBusy = errors.New("a capture is already in progress")
	// ErrNoFrame: the camera has not delivered a recent frame.
	ErrNoFrame = errors.New("no recent camera frame")
	// ErrNoCapture: no capture with that ID is waiting for review.
	ErrNoCapture = errors.New("no such capture under review")
)

// CaptureState is where a capture stands.
type CaptureState string

// The capture states:
//
//	working ──► review ──accept──► accepted
//	   │           └────retake───► discarded
//	   └──► refused (the frame could not be standardized: Refusal says why and what to change)
const (
	CaptureWorking   CaptureState = "working"
	CaptureReview    CaptureState = "review"
	CaptureRefused   CaptureState = "refused"
	CaptureAccepted  CaptureState = "accepted"
	CaptureDiscarded CaptureState = "discarded"
)

// Capture is one attempt at the photo: the frame chosen, the standardized
// result's report, or why there is none.
type Capture struct {
	ID    uint64       `json:"id"`
	State CaptureState `json:"state"`
	// Auto is true when the countdown took it, false when the operator did.
	Auto bool `json:"auto"`
	// FrameSeq is the frame chosen among the recent ones; Candidates how
	// many were considered.
	FrameSeq   uint64    `json:"frame_seq,omitempty"`
	Candidates int       `json:"candidates,omitempty"`
	Started    time.Time `json:"started"`
	// TookMS is the time from the request to the result.
	TookMS float64 `json:"took_ms,omitempty"`
	// Report is the standardized photo's proof (also for a photo that
	// failed its proof: then Problem says so).
	Report *photo.Report `json:"report,omitempty"`
	// Refusal says why the frame could not be standardized, with the
	// physical fix.
	Refusal *photo.RefusalError `json:"refusal,omitempty"`
	// Problem is a short reason when the capture failed otherwise (the
	// photo failed its proof, the frame did not decode).
	Problem string `json:"problem,omitempty"`
}

// captured is a capture with its pictures, kept while it is under review.
type captured struct {
	Capture
	photo []byte // the standardized JPEG
	frame Frame  // the original camera frame
}

// recordRecent keeps f among the recent frames; called under s.mu.
func (s *Station) recordRecent(f Frame) {
	n := s.RecentFrames
	if n <= 0 {
		n = DefaultRecentFrames
	}
	if len(s.recent) >= n {
		copy(s.recent, s.recent[1:])
		s.recent = s.recent[:n-1]
	}
	s.recent = append(s.recent, f)
}

// Capture chooses the best of the recent frames (one face, eyes open, the
// sharpest, preferring frames on which every check passed), standardizes
// it at the camera's full resolution and puts the result up for review,
// replacing any capture still under review. It publishes an EventCapture
// when it starts and when it ends. A frame that cannot be standardized is
// not an error: the returned Capture is refused and says why.
func (s *Station) Capture(ctx context.Context, auto bool) (Capture, error) {
	select {
	case s.capturing <- struct{}{}:
		defer func() { <-s.capturing }()
	default:
		return Capture{}, ErrCaptureBusy
	}
	s.mu.Lock()
	cutoff := time.Now().Add(-recentWindow)
	var cands []Frame
	for i := len(s.recent) - 1; i >= 0; i-- {
		if f := s.recent[i]; f.Time.After(cutoff) {
			cands = append(cands, f)
		}
	}
	s.captureSeq++
	c := Capture{ID: s.captureSeq, State: CaptureWorking, Auto: auto, Started: time.Now(), Candidates: len(cands)}
	cal := s.calibration
	s.mu.Unlock()
	if len(cands) == 0 {
		return Capture{}, ErrNoFrame
	}
	s.hub.Publish(Event{Type: EventCapture, Time: c.Started, Data: c})

	var res photo.Result
	var frame Frame
	err := s.safely("capture", func() (err error) {
		res, frame, err = s.standardize(ctx, cands, cal)
		return err
	})
	c.FrameSeq = frame.Seq
	c.TookMS = float64(time.Since(c.Started).Microseconds()) / 1000
	var refusal *photo.RefusalError
	var proof *photo.ProofError
	switch {
	case err == nil:
		c.State = CaptureReview
		c.Report = &res.Report
	case errors.Is(err, ErrPipelinePanic):
		s.captureAnalyzer = nil // we hold s.capturing; the next capture makes a new one
		c.State, c.Refusal, c.Problem = CaptureRefused, pipelineRefusal, err.Error()
	case errors.As(err, &refusal):
		c.State, c.Refusal = CaptureRefused, refusal
	case errors.As(err, &proof):
		// The file exists but misses the spec: never offered for review.
		c.State, c.Report, c.Problem = CaptureRefused, &res.Report, proof.Error()
	case ctx.Err() != nil:
		// Tell the screens, which show "working", that it ended.
		c.State, c.Problem = CaptureRefused, "cancelled"
		s.hub.Publish(Event{Type: EventCapture, Time: time.Now(), Data: c})
		return Capture{}, ctx.Err()
	default:
		c.State, c.Problem = CaptureRefused, err.Error()
	}
	s.logger.Info("capture", "id", c.ID, "state", c.State, "auto", auto, "frame", c.FrameSeq,
		"candidates", c.Candidates, "tookMS", int(c.TookMS))

	s.mu.Lock()
	if c.State == CaptureReview {
		s.figs.captured(time.Now())
		s.review = &captured{Capture: c, photo: res.JPEG, frame: frame}
		if s.capturedLocked(c.ID) {
			s.publishSessionLocked(s.sess.view)
		}
	} else {
		s.review = nil
	}
	s.mu.Unlock()
	s.hub.Publish(Event{Type: EventCapture, Time: time.Now(), Data: c})
	return c, nil
}

// standardize picks the best candidate and standardizes it. It runs with
// s.capturing held, which guards s.captureAnalyzer.
func (s *Station) standardize(ctx context.Context, cands []Frame, cal *Calibration) (photo.Result, Frame, error) {
	if s.captureAnalyzer == nil {
		an, err := photo.NewAnalyzer()
		if err != nil {
			return photo.Result{}, Frame{}, err
		}
		an.Full = true
		s.captureAnalyzer = an
	}
	an := s.captureAnalyzer
	spec, bg := s.spec()
	// Each candidate is decoded once: the best one's picture goes on to
	// Standardize, which then needs no second decode.
	best, bestScore := cands[0], -1.0
	var bestImg image.Image
	for _, f := range cands {
		if ctx.Err() != nil {
			return photo.Result{}, Frame{}, ctx.Err()
		}
		img, err := photo.Decode(f.JPEG, an.MaxPixels)
		if err != nil {
			continue
		}
		a, err := an.Analyze(img, photo.Options{Spec: spec, Background: bg, Rotation: f.Rotation})
		if err != nil || a.Faces != 1 {
			continue
		}
		score := a.Measures.Sharpness
		if c, ok := a.Check(photo.CheckEyesOpen); ok && c.Status != photo.StatusPass {
			score *= 0.1
		}
		if a.Ready {
			score *= 2
		}
		if score > bestScore {
			best, bestScore, bestImg = f, score, img
		}
	}
	opt := photo.StandardizeOptions{Spec: spec, Background: bg, Rotation: best.Rotation}
	if cal != nil && cal.plate != nil && cal.Rotation == best.Rotation && cal.plate.Bounds().Dx() == best.Width && cal.plate.Bounds().Dy() == best.Height {
		opt.CleanPlate = cal.plate
	}
	var res photo.Result
	var err error
	if bestImg != nil {
		res, err = an.Standardize(bestImg, opt)
	} else {
		res, err = an.StandardizeBytes(best.JPEG, opt) // no candidate had one face: the refusal says why
	}
	if err == nil {
		// A tilted head, closed eyes, a top like the wall: the student
		// must fix these in front of the camera; the photo is not offered.
		if r := photo.SubjectRefusal(res.Report.InputChecks); r != nil {
			return res, best, r
		}
	}
	return res, best, err
}

// spec returns the template and background mode in force.
func (s *Station) spec() (photo.Spec, photo.Background) {
	spec := s.Spec
	if spec.ID == "" {
		spec, _ = photo.LookupSpec(photo.DefaultSpecID)
	}
	bg := s.Background
	if bg == "" {
		bg = photo.BackgroundReplace
	}
	return spec, bg
}

// CapturePhoto returns the standardized JPEG of capture id while it is
// under review.
func (s *Station) CapturePhoto(id uint64) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.review == nil || s.review.ID != id {
		return nil, false
	}
	return s.review.photo, true
}

// Retake discards capture id and starts the framing over: the hold and the
// countdown begin again.
func (s *Station) Retake(id uint64) (Capture, error) {
	return s.endReview(id, CaptureDiscarded)
}

// Accept confirms capture id. When an operator's session is reviewing it,
// the photo, the original frame and the student's record are first
// committed to the record queue: if that fails (a full disk), the capture
// stays under review and the error says why.
func (s *Station) Accept(id uint64) (Capture, error) {
	s.mu.Lock()
	rv := s.review
	s.mu.Unlock()
	if rv == nil || rv.ID != id {
		return Capture{}, fmt.Errorf("capture %d: %w", id, ErrNoCapture)
	}
	if _, err := s.save(rv); err != nil {
		return Capture{}, err
	}
	return s.endReview(id, CaptureAccepted)
}

func (s *Station) endReview(id uint64, state CaptureState) (Capture, error) {
	s.mu.Lock()
	if s.review == nil || s.review.ID != id {
		s.mu.Unlock()
		return Capture{}, fmt.Errorf("capture %d: %w", id, ErrNoCapture)
	}
	c := s.review.Capture
	c.State = state
	s.review = nil
	if state == CaptureDiscarded {
		s.retookLocked()
		s.figs.retaken(time.Now(), c.Report)
	}
	s.publishSessionLocked(s.sessionLocked().view)
	s.mu.Unlock()
	s.restartFraming.Store(true)
	s.logger.Info("capture", "id", c.ID, "state", c.State)
	s.hub.Publish(Event{Type: EventCapture, Time: time.Now(), Data: c})
	return c, nil
}

// inReview reports whether a capture is waiting for the student.
func (s *Station) inReview() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.review != nil
}

// autoCaptureLoop takes a capture each time the countdown asks for one,
// until ctx is done.
func (s *Station) autoCaptureLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.autoCapture:
		}
		if _, err := s.Capture(ctx, true); err != nil && ctx.Err() == nil {
			s.logger.Warn("auto capture", "err", err)
		}
	}
}
