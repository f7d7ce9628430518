package kiosk_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"kioskd/kiosk"
)

// scriptSource plays a fixed list of frames, one per tick, then waits for
// cancellation.
type scriptSource struct {
	frames []kiosk.Frame
	every  time.Duration
	err    error // returned at once instead, when set
}

func (s *scriptSource) Run(ctx context.Context, sink kiosk.FrameSink) error {
	if s.err != nil {
		return s.err
	}
	sink.SetCameraStatus(kiosk.CameraStatus{State: kiosk.CameraStreaming, Source: "test"})
	t := time.NewTicker(s.every)
	defer t.Stop()
	for _, f := range s.frames {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			sink.PutFrame(f)
		}
	}
	<-ctx.Done()
	return nil
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func frames(n int) []kiosk.Frame {
	out := make([]kiosk.Frame, n)
	for i := range out {
		out[i] = kiosk.Frame{JPEG: []byte{byte(i)}, Width: 640, Height: 480}
	}
	return out
}

func TestStationNewestWins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &scriptSource{frames: frames(30), every: 10 * time.Millisecond}
		st := kiosk.NewStation(src, discard())
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- st.Run(ctx) }()

		// A fast reader sees every frame in order.
		var fast []uint64
		var wg sync.WaitGroup
		wg.Go(func() {
			var last uint64
			for range 30 {
				f, err := st.NextFrame(ctx, last)
				if err != nil {
					return
				}
				fast = append(fast, f.Seq)
				last = f.Seq
			}
		})
		// A slow reader (100 ms per frame) skips frames but always gets the newest.
		var slow []uint64
		wg.Go(func() {
			var last uint64
			for range 3 {
				f, err := st.NextFrame(ctx, last)
				if err != nil {
					return
				}
				slow = append(slow, f.Seq)
				last = f.Seq
				time.Sleep(103 * time.Millisecond) // off the frame ticks, so no tie
			}
		})
		wg.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run = %v; want nil after cancel", err)
		}
		for i, seq := range fast {
			if seq != uint64(i+1) {
				t.Fatalf("fast reader frame %d: Seq %d; want %d (all: %v)", i, seq, i+1, fast)
			}
		}
		// The slow reader reads at t=10 ms, then the newest at 113 ms and 216 ms.
		want := []uint64{1, 11, 21}
		if len(slow) != len(want) {
			t.Fatalf("slow reader got %v; want %v", slow, want)
		}
		for i := range want {
			if slow[i] != want[i] {
				t.Fatalf("slow reader got %v; want %v", slow, want)
			}
		}
	})
}

func TestStationStatsAndCameraEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &scriptSource{frames: frames(100), every: 40 * time.Millisecond} // 25 fps
		st := kiosk.NewStation(src, discard())
		st.StatsInterval = 1010 * time.Millisecond // off the frame ticks, so no tie
		sub := st.Subscribe()
		defer sub.Close()
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- st.Run(ctx) }()

		var sawCamera bool
		var stats []kiosk.Stats
		for len(stats) < 3 {
			e := <-sub.Events()
			switch e.Type {
			case kiosk.EventCamera:
				cs := e.Data.(kiosk.CameraStatus)
				sawCamera = cs.State == kiosk.CameraStreaming
			case kiosk.EventStats:
				stats = append(stats, e.Data.(kiosk.Stats))
			}
		}
		cancel()
		<-done
		if !sawCamera {
			t.Error("no camera event with state streaming")
		}
		// The rate is steady at 25 fps (25 frames per 1.01 s window = 24.75).
		if got := stats[2].FPS; got < 24.5 || got > 25.5 {
			t.Errorf("FPS in the third second = %.2f; want 25", got)
		}
		if stats[2].Width != 640 || stats[2].Height != 480 {
			t.Errorf("stats size = %dx%d; want 640x480", stats[2].Width, stats[2].Height)
		}
		if s := st.Status(); s.Camera.State != kiosk.CameraStreaming || s.Stats.Frames < 70 {
			t.Errorf("Status() = %+v; want streaming with >= 70 frames", s)
		}
	})
}

func TestStationRotatedSize(t *testing.T) {
	st := kiosk.NewStation(&scriptSource{}, discard())
	st.PutFrame(kiosk.Frame{Width: 1920, Height: 1080, Rotation: 90})
	if f := st.LatestFrame(); f.Seq != 1 || f.Time.IsZero() {
		t.Errorf("LatestFrame() = Seq %d, Time %v; want Seq 1 and a time", f.Seq, f.Time)
	}
	// Stats report the size as shown, after turning.
	synctest.Test(t, func(t *testing.T) {
		st := kiosk.NewStation(&scriptSource{frames: []kiosk.Frame{{Width: 1920, Height: 1080, Rotation: 270}}, every: time.Millisecond}, discard())
		st.StatsInterval = 100 * time.Millisecond
		sub := st.Subscribe()
		ctx, cancel := context.WithCancel(t.Context())
		go st.Run(ctx)
		for e := range sub.Events() {
			if e.Type == kiosk.EventStats {
				if s := e.Data.(kiosk.Stats); s.Width != 1080 || s.Height != 1920 {
					t.Errorf("rotated stats size = %dx%d; want 1080x1920", s.Width, s.Height)
				}
				break
			}
		}
		cancel()
		sub.Close()
		synctest.Wait()
	})
}

func TestStationSourceError(t *testing.T) {
	boom := errors.New("no such camera")
	st := kiosk.NewStation(&scriptSource{err: boom}, discard())
	if err := st.Run(t.Context()); !errors.Is(err, boom) {
		t.Fatalf("Run = %v; want %v", err, boom)
	}
}

func TestNextFrameCancel(t *testing.T) {
	st := kiosk.NewStation(&scriptSource{}, discard())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := st.NextFrame(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("NextFrame on a cancelled context = %v; want context.Canceled", err)
	}
}

func TestStationHealthy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := kiosk.NewStation(&scriptSource{every: time.Second}, discard())
		if err := st.Healthy(); err != nil {
			t.Fatalf("Healthy() of a new station = %v; want nil", err)
		}
		time.Sleep(4 * time.Second) // not running: no progress
		if err := st.Healthy(); !errors.Is(err, kiosk.ErrStalled) {
			t.Fatalf("Healthy() after 4 s without Run = %v; want ErrStalled", err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		go st.Run(ctx)
		time.Sleep(1500 * time.Millisecond)
		if err := st.Healthy(); err != nil {
			t.Errorf("Healthy() of a running station = %v; want nil", err)
		}
		cancel()
		synctest.Wait()
	})
}
