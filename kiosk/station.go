package kiosk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"kioskd/kiosk/photo"
)

// DefaultStatsInterval is how often the Station publishes an EventStats.
const DefaultStatsInterval = time.Second

// Stats is the station's live numbers.
type Stats struct {
	// FPS is the rate at which frames arrived over the last interval.
	FPS float64 `json:"fps"`
	// Frames counts every frame since start.
	Frames uint64 `json:"frames"`
	// Width and Height are the newest frame's size as shown (after Rotation).
	Width  int `json:"width"`
	Height int `json:"height"`
}

// Status is a snapshot of the station for status pages.
type Status struct {
	Camera CameraStatus `json:"camera"`
	Stats  Stats        `json:"stats"`
	// Feedback is the newest framing verdict; nil before the first.
	Feedback *Feedback `json:"feedback,omitempty"`
	// Review is the capture waiting for the student, if any.
	Review *Capture `json:"review,omitempty"`
	// Calibration is the booth's calibration and the wall's drift.
	Calibration CalibrationStatus `json:"calibration"`
	// Session is the operator's session: who is at the booth, how far.
	Session SessionView `json:"session"`
	// Queue is the record queue's panel; nil without a queue.
	Queue *QueueStatus `json:"queue,omitempty"`
	// Figures are today's numbers.
	Figures Figures `json:"figures"`
}

// Station runs the booth's live loop: it takes frames from its FrameSource,
// keeps the newest for every reader, and publishes camera states and frame
// rates on its Hub.
type Station struct {
	// StatsInterval is how often Stats are computed and published;
	// DefaultStatsInterval if 0. Set before Run.
	StatsInterval time.Duration
	// AnalysisRate is how many frames a second are analysed for framing
	// feedback; DefaultAnalysisRate if 0, none if negative.
	AnalysisRate float64
	// Spec is the photo template the checks use; the default template if
	// its ID is empty. Background is the booth's mode; replace if empty.
	Spec       photo.Spec
	Background photo.Background
	// Hold is how long every check must pass before the framing counts as
	// steady; photo.DefaultHold if 0.
	Hold time.Duration
	// Countdown is the auto-capture countdown once steady;
	// DefaultCountdown if 0.
	Countdown time.Duration
	// AutoCapture makes the station count down once the framing is steady
	// and capture by itself when the countdown ends (unless a capture is
	// waiting for review). Without it no countdown runs.
	AutoCapture bool
	// RecentFrames is how many of the newest frames a capture chooses
	// from; DefaultRecentFrames if 0.
	RecentFrames int
	// Sync, if set, reports the sync with central for the queue panel.
	Sync SyncReporter
	// StateDir is where the calibration is kept; none is kept if empty.
	StateDir string
	// Camera, if set, locks the camera's exposure and white balance when
	// the booth is calibrated.
	Camera CameraLocker
	// Roster, Operators and Records are the operator's session's
	// collaborators: who may be photographed, who may operate, and where an
	// accepted photo is saved. Without them the station frames and captures
	// but keeps no records.
	Roster    Roster
	Operators Operators
	Records   Records
	// StationID names this station in every record.
	StationID string
	// FeeYuan is the on-site fee; DefaultFeeYuan if 0.
	FeeYuan int
	// IdleTimeout returns the booth to its start screen after this long
	// without a touch; DefaultIdleTimeout if 0, never if negative.
	IdleTimeout time.Duration

	src    FrameSource
	logger *slog.Logger
	hub    Hub
	frames *newest

	mu     sync.Mutex
	seq    uint64
	camera CameraStatus
	stats  Stats

	lastFeedback    *Feedback
	lastAnalysisLog time.Time
	lastPanicLog    map[string]time.Time // by step; see safely
	beat            time.Time            // last tick of the stats loop

	recent      []Frame // the newest frames, oldest first
	captureSeq  uint64
	review      *captured // the capture waiting for the student, if any
	calibration *Calibration
	drift       float64 // wall colour now against the calibration (CIEDE2000)
	sess        *session
	figs        figures

	// capturing is a one-slot semaphore: one capture or calibration at a
	// time; it also guards captureAnalyzer.
	capturing       chan struct{}
	captureAnalyzer *photo.Analyzer
	// autoCapture asks the auto-capture loop for a capture (one slot).
	autoCapture chan struct{}
	// restartFraming tells the analysis loop to start the hold over.
	restartFraming atomic.Bool
	// pipelineHook, if set (by tests, before Run), is called by safely
	// before each step of the photo pipeline, with the step's name.
	pipelineHook func(during string)
}

// ErrStalled is what Healthy reports when the station's loop has stopped
// making progress.
var ErrStalled = errors.New("station loop stalled")

// Healthy reports whether the station's own loop is making progress (its
// stats ticker ran within the last three intervals), for a service
// watchdog. A camera that is unplugged does not make the station unhealthy:
// the station is reconnecting it, and says so.
func (s *Station) Healthy() error {
	interval := s.StatsInterval
	if interval <= 0 {
		interval = DefaultStatsInterval
	}
	s.mu.Lock()
	beat := s.beat
	s.mu.Unlock()
	if since := time.Since(beat); since > 3*interval {
		return fmt.Errorf("%w: no progress for %v", ErrStalled, since.Round(time.Millisecond))
	}
	return nil
}

// NewStation returns a Station that will read frames from src.
func NewStation(src FrameSource, logger *slog.Logger) *Station {
	return &Station{
		src:    src,
		logger: logger.With("component", "station"),
		frames: newNewest(),
		camera: CameraStatus{State: CameraStarting, Since: time.Now()},
		beat:   time.Now(),

		capturing:   make(chan struct{}, 1),
		autoCapture: make(chan struct{}, 1),
	}
}

// Run runs the frame source, the live analysis and the stats ticker until
// ctx is done or the source fails; it returns nil on cancellation.
func (s *Station) Run(ctx context.Context) error {
	var an *photo.Analyzer
	if s.AnalysisRate >= 0 {
		var err error
		if an, err = photo.NewAnalyzer(); err != nil {
			return fmt.Errorf("start the framing analysis: %w", err)
		}
	}
	if s.StateDir != "" {
		cal, err := loadCalibration(s.StateDir)
		if err != nil {
			// Not fatal: the booth works uncalibrated, and the UI says so.
			s.logger.Warn("calibration not loaded; calibrate the booth again", "err", err)
		}
		s.mu.Lock()
		s.calibration = cal
		s.mu.Unlock()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// The stats, analysis and auto-capture loops exit when ctx is cancelled: by our
	// caller, or by the cancel below once the source has returned.
	var wg sync.WaitGroup
	wg.Go(func() { s.statsLoop(ctx) })
	if an != nil {
		wg.Go(func() { s.analyseLoop(ctx, an) })
	}
	if s.AutoCapture {
		wg.Go(func() { s.autoCaptureLoop(ctx) })
	}
	err := s.src.Run(ctx, s)
	cancel()
	wg.Wait()
	if ctx.Err() != nil && err == nil {
		return nil
	}
	return err
}

func (s *Station) statsLoop(ctx context.Context) {
	interval := s.StatsInterval
	if interval <= 0 {
		interval = DefaultStatsInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	last, lastAt := uint64(0), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.mu.Lock()
			s.beat = now
			n := s.seq
			s.stats.Frames = n
			s.stats.FPS = float64(n-last) / now.Sub(lastAt).Seconds()
			st := s.stats
			s.mu.Unlock()
			last, lastAt = n, now
			s.hub.Publish(Event{Type: EventStats, Time: now, Data: st})
			s.measureDrift(s.frames.get())
			s.idleCheck(now)
		}
	}
}

// PutFrame implements FrameSink: f becomes the newest frame. It never blocks.
func (s *Station) PutFrame(f Frame) {
	s.mu.Lock()
	s.seq++
	f.Seq = s.seq
	if f.Time.IsZero() {
		f.Time = time.Now()
	}
	w, h := f.Width, f.Height
	if f.Rotation == 90 || f.Rotation == 270 {
		w, h = h, w
	}
	s.stats.Width, s.stats.Height = w, h
	// put under s.mu so that frames enter the slot in Seq order.
	s.frames.put(f)
	s.recordRecent(f)
	s.mu.Unlock()
}

// SetCameraStatus implements FrameSink: it records st and publishes it.
func (s *Station) SetCameraStatus(st CameraStatus) {
	if st.Since.IsZero() {
		st.Since = time.Now()
	}
	s.mu.Lock()
	prev := s.camera
	s.camera = st
	s.mu.Unlock()
	if prev.State != st.State || prev.Reason != st.Reason || prev.Source != st.Source || prev.Format != st.Format {
		s.logger.Info("camera", "state", st.State, "source", st.Source, "device", st.Device, "format", st.Format, "reason", st.Reason)
	}
	s.hub.Publish(Event{Type: EventCamera, Time: st.Since, Data: st})
}

// NextFrame waits for and returns the newest frame whose Seq is greater than
// after. A reader that passes the Seq of the frame it last had sees each
// frame at most once and skips those it was too slow for.
func (s *Station) NextFrame(ctx context.Context, after uint64) (Frame, error) {
	return s.frames.next(ctx, after)
}

// LatestFrame returns the newest frame, or a zero Frame before the first.
func (s *Station) LatestFrame() Frame { return s.frames.get() }

// Subscribe subscribes to the station's events.
func (s *Station) Subscribe() *Subscription { return s.hub.Subscribe() }

// Status returns the station's current state.
func (s *Station) Status() Status {
	cal := s.calibrationStatus()
	var qs *QueueStatus
	if q, ok := s.QueueStatus(); ok {
		qs = &q
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{Camera: s.camera, Stats: s.stats, Feedback: s.lastFeedback, Calibration: cal,
		Session: s.sessionLocked().view, Queue: qs, Figures: s.figs.view(time.Now())}
	if s.review != nil {
		c := s.review.Capture
		st.Review = &c
	}
	return st
}
