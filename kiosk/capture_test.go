package kiosk_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"kioskd/camera/demo"
	"kioskd/kiosk"
)

// demoFrame is the demo scene's frame at time at of its loop.
func demoFrame(t *testing.T, at time.Duration) kiosk.Frame {
	t.Helper()
	s := demo.NewScene()
	f, err := s.Frame(int(at * time.Duration(s.Frames()) / demo.LoopLength))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// loopSource puts the frame it holds every 50 ms; set changes it.
type loopSource struct {
	mu sync.Mutex
	f  kiosk.Frame
}

func (l *loopSource) set(f kiosk.Frame) {
	l.mu.Lock()
	l.f = f
	l.mu.Unlock()
}

func (l *loopSource) Run(ctx context.Context, sink kiosk.FrameSink) error {
	sink.SetCameraStatus(kiosk.CameraStatus{State: kiosk.CameraStreaming, Source: "test"})
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			l.mu.Lock()
			f := l.f
			l.mu.Unlock()
			f.Time = time.Time{}
			sink.PutFrame(f)
		}
	}
}

// runStation starts st and stops it at the end of the test.
func runStation(t *testing.T, st *kiosk.Station) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
}

// waitFor reads events until match returns true, or fails after d.
func waitFor(t *testing.T, sub *kiosk.Subscription, d time.Duration, what string, match func(kiosk.Event) bool) kiosk.Event {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case e, ok := <-sub.Events():
			if !ok {
				t.Fatalf("subscription ended (%v) while waiting for %s", sub.Err(), what)
			}
			if match(e) {
				return e
			}
		case <-timeout:
			t.Fatalf("no %s within %v", what, d)
		}
	}
}

// waitFrames waits until the station has frames to choose from.
func waitFrames(t *testing.T, st *kiosk.Station) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var last uint64
	for range 3 {
		f, err := st.NextFrame(ctx, last)
		if err != nil {
			t.Fatalf("no frames: %v", err)
		}
		last = f.Seq
	}
}

func TestCaptureReviewAccept(t *testing.T) {
	src := &loopSource{f: demoFrame(t, 10*time.Second)} // settled: centred and level
	st := kiosk.NewStation(src, discard())
	st.AnalysisRate = -1
	runStation(t, st)
	waitFrames(t, st)

	c, err := st.Capture(t.Context(), false)
	if err != nil {
		t.Fatalf("Capture = %v", err)
	}
	if c.State != kiosk.CaptureReview || c.Report == nil || !c.Report.OK || c.Auto || c.FrameSeq == 0 {
		t.Fatalf("Capture = %+v (refusal %+v); want a proven photo under review", c, c.Refusal)
	}
	b, ok := st.CapturePhoto(c.ID)
	if !ok {
		t.Fatal("CapturePhoto: no photo for the capture under review")
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
	if err != nil || cfg.Width != 480 || cfg.Height != 640 {
		t.Errorf("the photo is %dx%d (%v); want a 480x640 JPEG", cfg.Width, cfg.Height, err)
	}
	if r := st.Status().Review; r == nil || r.ID != c.ID {
		t.Errorf("Status().Review = %+v; want capture %d", r, c.ID)
	}
	a, err := st.Accept(c.ID)
	if err != nil || a.State != kiosk.CaptureAccepted {
		t.Fatalf("Accept = %+v, %v; want accepted", a, err)
	}
	if _, ok := st.CapturePhoto(c.ID); ok {
		t.Error("the accepted photo is still offered for review")
	}
	if _, err := st.Accept(c.ID); !errors.Is(err, kiosk.ErrNoCapture) {
		t.Errorf("Accept twice = %v; want ErrNoCapture", err)
	}
	if _, err := st.Retake(999); !errors.Is(err, kiosk.ErrNoCapture) {
		t.Errorf("Retake(unknown) = %v; want ErrNoCapture", err)
	}
}

func TestCaptureRefusesEmptyBooth(t *testing.T) {
	src := &loopSource{f: demoFrame(t, 500*time.Millisecond)} // the empty wall
	st := kiosk.NewStation(src, discard())
	st.AnalysisRate = -1
	runStation(t, st)
	waitFrames(t, st)
	c, err := st.Capture(t.Context(), false)
	if err != nil {
		t.Fatalf("Capture = %v", err)
	}
	if c.State != kiosk.CaptureRefused || c.Refusal == nil || c.Refusal.Code != "no_face" || c.Refusal.Hint.Zh == "" {
		t.Fatalf("Capture of an empty booth = %+v; want refused, no_face, with a hint", c)
	}
	if _, ok := st.CapturePhoto(c.ID); ok {
		t.Error("a refused capture offers a photo")
	}
}

func TestCaptureWithoutFrames(t *testing.T) {
	st := kiosk.NewStation(&scriptSource{}, discard())
	if _, err := st.Capture(t.Context(), false); !errors.Is(err, kiosk.ErrNoFrame) {
		t.Errorf("Capture before any frame = %v; want ErrNoFrame", err)
	}
}

func TestAutoCapture(t *testing.T) {
	src := &loopSource{f: demoFrame(t, 10*time.Second)}
	st := kiosk.NewStation(src, discard())
	st.AnalysisRate = 10
	st.Hold = 200 * time.Millisecond
	st.Countdown = 300 * time.Millisecond
	st.AutoCapture = true
	sub := st.Subscribe()
	defer sub.Close()
	runStation(t, st)

	isCapture := func(state kiosk.CaptureState) func(kiosk.Event) bool {
		return func(e kiosk.Event) bool {
			c, ok := e.Data.(kiosk.Capture)
			return e.Type == kiosk.EventCapture && ok && c.State == state
		}
	}
	waitFor(t, sub, 20*time.Second, "countdown running", func(e kiosk.Event) bool {
		c, ok := e.Data.(kiosk.Countdown)
		return ok && c.State == kiosk.CountdownRunning
	})
	waitFor(t, sub, 20*time.Second, "countdown done", func(e kiosk.Event) bool {
		c, ok := e.Data.(kiosk.Countdown)
		return ok && c.State == kiosk.CountdownDone
	})
	e := waitFor(t, sub, 30*time.Second, "an auto capture under review", isCapture(kiosk.CaptureReview))
	c := e.Data.(kiosk.Capture)
	if !c.Auto {
		t.Errorf("capture %+v; want Auto", c)
	}
	// Under review the countdown does not run again; after a retake it does,
	// and takes another photo.
	if _, err := st.Retake(c.ID); err != nil {
		t.Fatalf("Retake = %v", err)
	}
	e = waitFor(t, sub, 30*time.Second, "a second auto capture", isCapture(kiosk.CaptureReview))
	if c2 := e.Data.(kiosk.Capture); c2.ID == c.ID {
		t.Errorf("second capture has the first one's ID %d", c.ID)
	}
}

// fakeLocker records that the camera was locked.
type fakeLocker struct{ calls int }

func (f *fakeLocker) LockCamera(context.Context) (map[string]int32, error) {
	f.calls++
	return map[string]int32{"auto_exposure": 1}, nil
}

func TestCalibrate(t *testing.T) {
	// The empty wall at 70 % of its light, made before the station runs:
	// under -race the per-pixel loop takes seconds, long enough for the
	// station's events to overflow an idle subscription.
	dark := demoFrame(t, 500*time.Millisecond)
	img, _ := jpeg.Decode(bytes.NewReader(dark.JPEG))
	dimmed := image.NewRGBA(img.Bounds())
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			dimmed.Set(x, y, color.RGBA{uint8(r >> 8 * 7 / 10), uint8(g >> 8 * 7 / 10), uint8(b >> 8 * 7 / 10), 255})
		}
	}
	var buf bytes.Buffer
	jpeg.Encode(&buf, dimmed, nil)
	dimmedWall := kiosk.Frame{JPEG: buf.Bytes(), Width: dark.Width, Height: dark.Height}

	dir := t.TempDir()
	src := &loopSource{f: demoFrame(t, 10*time.Second)}
	lock := &fakeLocker{}
	st := kiosk.NewStation(src, discard())
	st.AnalysisRate = -1
	st.StatsInterval = 100 * time.Millisecond
	st.StateDir, st.Camera = dir, lock
	runStation(t, st)
	waitFrames(t, st)

	if _, err := st.Calibrate(t.Context()); !errors.Is(err, kiosk.ErrBoothNotEmpty) {
		t.Fatalf("Calibrate with a student in the booth = %v; want ErrBoothNotEmpty", err)
	}
	empty := demoFrame(t, 500*time.Millisecond) // the empty wall
	src.set(empty)
	for !bytes.Equal(st.LatestFrame().JPEG, empty.JPEG) {
		time.Sleep(10 * time.Millisecond)
	}
	cs, err := st.Calibrate(t.Context())
	if err != nil {
		t.Fatalf("Calibrate = %v", err)
	}
	if !cs.Calibrated || cs.Locked["auto_exposure"] != 1 || lock.calls != 1 {
		t.Errorf("Calibrate = %+v, lock calls %d; want calibrated with the camera locked once", cs, lock.calls)
	}
	for _, name := range []string{"calibration.json", "clean-plate.jpg"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("calibration file: %v", err)
		}
	}
	// The light changes: the wall drifts from the calibration. Subscribed
	// only now: under -race the calibrations take seconds, in which an
	// idle subscription overflows with the stats.
	sub := st.Subscribe()
	defer sub.Close()
	src.set(dimmedWall)
	waitFor(t, sub, 5*time.Second, "a drift above the warning", func(e kiosk.Event) bool {
		c, ok := e.Data.(kiosk.CalibrationStatus)
		return ok && c.Drift > kiosk.DriftWarn
	})

	// A new station on the same state folder starts calibrated.
	st2 := kiosk.NewStation(&loopSource{f: demoFrame(t, 500*time.Millisecond)}, discard())
	st2.AnalysisRate = -1
	st2.StateDir = dir
	runStation(t, st2)
	waitFrames(t, st2) // Run loads the calibration before the first frame
	if c := st2.Status().Calibration; !c.Calibrated || !c.Time.Equal(cs.Time) {
		t.Errorf("reloaded calibration = %+v; want the saved one from %v", c, cs.Time)
	}
	// ... and the program can set the locked camera settings again.
	if locked, err := kiosk.LockedControls(dir); err != nil || locked["auto_exposure"] != 1 {
		t.Errorf("LockedControls = %v, %v; want the calibration's auto_exposure=1", locked, err)
	}
	if locked, err := kiosk.LockedControls(t.TempDir()); err != nil || locked != nil {
		t.Errorf("LockedControls of an uncalibrated booth = %v, %v; want nil, nil", locked, err)
	}
}

func TestCalibrationFilesDamaged(t *testing.T) {
	plate := demoFrame(t, 500*time.Millisecond)
	for name, files := range map[string]map[string][]byte{
		"not JSON":        {"calibration.json": []byte("{\"time\": 12"), "clean-plate.jpg": plate.JPEG},
		"plate missing":   {"calibration.json": []byte(`{"time":"2026-01-02T03:04:05Z","width":1280,"height":720}`)},
		"plate garbage":   {"calibration.json": []byte(`{"time":"2026-01-02T03:04:05Z","width":1280,"height":720}`), "clean-plate.jpg": []byte("\xff\xd8junk")},
		"size mismatch":   {"calibration.json": []byte(`{"time":"2026-01-02T03:04:05Z","width":640,"height":480}`), "clean-plate.jpg": plate.JPEG},
		"wrong JSON type": {"calibration.json": []byte(`[1,2,3]`), "clean-plate.jpg": plate.JPEG},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for f, b := range files {
				if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			st := kiosk.NewStation(&loopSource{f: plate}, discard())
			st.AnalysisRate = -1
			st.StateDir = dir
			runStation(t, st)
			waitFrames(t, st) // the station runs, uncalibrated
			if c := st.Status().Calibration; c.Calibrated {
				t.Errorf("calibrated from damaged files: %+v", c)
			}
			// The files are left for the operator to look at, not deleted.
			if _, err := os.Stat(filepath.Join(dir, "calibration.json")); err != nil {
				t.Errorf("calibration.json removed: %v", err)
			}
		})
	}
}
