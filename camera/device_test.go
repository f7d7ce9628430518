package camera_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/blackjack/webcam"
	"golang.org/x/sys/unix"

	"kioskd/camera"
	"kioskd/kiosk"
)

var hd = camera.Mode{Format: camera.MJPEG, Width: 1920, Height: 1080, FPS: 30}

func TestRunDeliversOnlyGoodFrames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		good := testJPEG(t, 64, 48, 1)
		padded := append(testJPEG(t, 64, 48, 2), make([]byte, 300)...) // UVC buffers are often longer
		noDHT := stripDHT(t, testJPEG(t, 64, 48, 3))
		truncated := good[:len(good)/2]
		noEOI := good[:len(good)-2]
		garbage := bytes.Repeat([]byte{0xFF, 0xD8, 0x12}, 50)

		cam := newFakeCam(hd)
		cam.steps = []step{
			{frames: [][]byte{{}}},
			{frames: [][]byte{truncated}},
			{frames: [][]byte{noDHT}},
			{frames: [][]byte{garbage}},
			{frames: [][]byte{padded}},
			{frames: [][]byte{noEOI}},
			{frames: [][]byte{good}},
		}
		o := &opener{results: []any{cam}}
		d := newDevice(o, nil)
		d.Rotation = 90
		s := &sink{}
		err, _ := runFor(d, s, 3*time.Second) // shorter than the stall timeout
		if err != nil {
			t.Fatalf("Run = %v; want nil", err)
		}
		frames, sts := s.snapshot()
		if len(frames) != 3 {
			t.Fatalf("delivered %d frames; want 3 (no-DHT, padded, good)", len(frames))
		}
		for i, f := range frames {
			img := decode(t, f.JPEG)
			if f.Width != 64 || f.Height != 48 || img.Bounds().Dx() != 64 || img.Bounds().Dy() != 48 {
				t.Errorf("frame %d: Width x Height = %dx%d, decoded %v; want 64x48 from the JPEG header, not the 1920x1080 asked for", i, f.Width, f.Height, img.Bounds())
			}
			if f.Rotation != 90 {
				t.Errorf("frame %d: Rotation = %d; want 90", i, f.Rotation)
			}
			if f.Time.IsZero() {
				t.Errorf("frame %d: Time not set", i)
			}
		}
		if !bytes.Equal(frames[1].JPEG, padded[:len(padded)-300]) {
			t.Errorf("padded frame: got %d bytes; want the %d bytes up to EOI", len(frames[1].JPEG), len(padded)-300)
		}
		c := d.Counters()
		if c.Frames != 3 || c.Skipped != 4 || c.Opens != 1 {
			t.Errorf("Counters = %+v; want 3 frames, 4 skipped, 1 open", c)
		}
		want := []string{"starting", "streaming", "stopped"}
		if got := states(sts); !slices.Equal(got, want) {
			t.Errorf("states = %q; want %q", got, want)
		}
		if sts[1].Format != "MJPEG 64x48 30fps" || sts[1].Source != kiosk.SourceV4L2 || sts[1].Device == "" {
			t.Errorf("streaming status = %+v; want format MJPEG 64x48 30fps (the real size), source v4l2 and the device", sts[1])
		}
		if _, closed, out := cam.state(); !closed || out != 0 {
			t.Errorf("after Run: closed = %v, buffers not released = %d; want closed, 0", closed, out)
		}
		if cam.buffers != camera.DefaultBuffers || cam.fps != 30 {
			t.Errorf("buffers, fps = %d, %v; want %d, 30", cam.buffers, cam.fps, camera.DefaultBuffers)
		}
	})
}

func TestRunDeliversOnlyTheNewestOfAQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cam := newFakeCam(hd)
		cam.steps = []step{{frames: [][]byte{testJPEG(t, 16, 16, 0), testJPEG(t, 32, 16, 0), testJPEG(t, 48, 16, 0)}}}
		d := newDevice(&opener{results: []any{cam}}, nil)
		s := &sink{}
		if err, _ := runFor(d, s, 2*time.Second); err != nil {
			t.Fatalf("Run = %v", err)
		}
		frames, _ := s.snapshot()
		if len(frames) != 1 || frames[0].Width != 48 {
			t.Fatalf("delivered %d frames (first %dpx wide); want only the newest, 48px wide", len(frames), frames[0].Width)
		}
		decode(t, frames[0].JPEG) // read after the fake overwrote every released buffer
		if c := d.Counters(); c.Dropped != 2 {
			t.Errorf("Dropped = %d; want 2", c.Dropped)
		}
		if _, _, out := cam.state(); out != 0 {
			t.Errorf("%d buffers never released", out)
		}
	})
}

func TestRunReconnectsAfterUnplug(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		first := newFakeCam(hd)
		first.steps = []step{
			{frames: [][]byte{testJPEG(t, 64, 48, 1)}},
			{frames: [][]byte{testJPEG(t, 64, 48, 2)}},
			{getErr: unix.ENODEV},
		}
		second := newFakeCam(hd)
		jpg := testJPEG(t, 32, 24, 3)
		second.live = func() []byte { return jpg }
		gone := fmt.Errorf("stat: %w", unix.ENOENT) // the by-id link is gone while unplugged
		o := &opener{results: []any{first, gone, gone, second}}
		d := newDevice(o, nil)
		s := &sink{}
		if err, _ := runFor(d, s, 5*time.Second); err != nil {
			t.Fatalf("Run = %v; want nil", err)
		}
		frames, sts := s.snapshot()
		want := []string{"starting", "streaming", "reconnecting (" + camera.ReasonUnplugged + ")", "streaming", "stopped"}
		if got := states(sts); !slices.Equal(got, want) {
			t.Errorf("states = %q; want %q", got, want)
		}
		if len(frames) < 30 || frames[0].Width != 64 || frames[len(frames)-1].Width != 32 {
			t.Fatalf("delivered %d frames; want the first camera's, then the second's for seconds", len(frames))
		}
		for _, f := range frames {
			decode(t, f.JPEG)
		}
		if _, closed, _ := first.state(); !closed {
			t.Error("the unplugged camera was not closed")
		}
		if o.count() != 4 {
			t.Errorf("opened %d times; want 4", o.count())
		}
	})
}

func TestRunBacksOffWhileUnplugged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := &opener{results: []any{fmt.Errorf("open: %w", unix.ENODEV)}}
		d := newDevice(o, nil)
		s := &sink{}
		start := time.Now()
		if err, _ := runFor(d, s, time.Minute); err != nil {
			t.Fatalf("Run = %v", err)
		}
		var gaps []time.Duration
		prev := start
		for _, at := range o.calls {
			gaps = append(gaps, at.Sub(prev))
			prev = at
		}
		want := []time.Duration{0, 250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
		if len(gaps) < len(want) || !slices.Equal(gaps[:len(want)], want) {
			t.Fatalf("gaps between opens = %v; want %v then 5s", gaps, want)
		}
		for _, g := range gaps[len(want):] {
			if g != camera.MaxBackoff {
				t.Fatalf("gap %v after the backoff reached its cap; want %v", g, camera.MaxBackoff)
			}
		}
		// 7.75 s to reach the cap, then one attempt every 5 s.
		if n := len(o.calls); n < 15 || n > 17 {
			t.Errorf("%d opens in a minute; want about 16", n)
		}
		_, sts := s.snapshot()
		want2 := []string{"starting", "reconnecting (" + camera.ReasonUnplugged + ")", "stopped"}
		if got := states(sts); !slices.Equal(got, want2) {
			t.Errorf("states = %q; want %q (one report, not one per attempt)", got, want2)
		}
	})
}

// A camera whose node stays but whose every read fails (poll wakes at once
// with POLLERR, DQBUF gives ENODEV or EIO) must not make the loop spin.
func TestRunDoesNotSpinOnADeadDevice(t *testing.T) {
	for _, tc := range []struct {
		name   string
		step   step
		reason string
	}{
		{"ENODEV", step{getErr: unix.ENODEV}, camera.ReasonUnplugged},
		{"EIO", step{getErr: unix.EIO}, camera.ReasonIOError},
		{"poll error", step{waitErr: unix.EBADF}, camera.ReasonIOError},
		{"ready but empty", step{spurious: true}, fmt.Sprintf(camera.ReasonStalled, 5, 5)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var cams []*fakeCam
				o := &opener{}
				for range 100 {
					c := newFakeCam(hd)
					c.steps = []step{tc.step}
					cams = append(cams, c)
					o.results = append(o.results, c)
				}
				d := newDevice(o, nil)
				s := &sink{}
				if err, _ := runFor(d, s, time.Minute); err != nil {
					t.Fatalf("Run = %v", err)
				}
				waits := 0
				for _, c := range cams {
					w, _, _ := c.state()
					waits += w
				}
				// At most a hundred empty wake-ups a second while the
				// device claims to be ready, else a few per open.
				if n := o.count(); n > 20 || waits > 6000 {
					t.Errorf("in a minute: %d opens, %d waits; want at most 20 opens and 6000 waits", n, waits)
				}
				if o.count() < 5 {
					t.Errorf("%d opens in a minute; want it to keep trying", o.count())
				}
				_, sts := s.snapshot()
				if got := states(sts); !slices.Contains(got, "reconnecting ("+tc.reason+")") {
					t.Errorf("states = %q; want reconnecting (%s)", got, tc.reason)
				}
			})
		})
	}
}

func TestRunReopensAStalledCamera(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cam := newFakeCam(hd)
		cam.steps = []step{{frames: [][]byte{testJPEG(t, 16, 16, 0)}}} // then only timeouts
		again := newFakeCam(hd)
		jpg := testJPEG(t, 16, 16, 9)
		again.live = func() []byte { return jpg }
		o := &opener{results: []any{cam, again}}
		d := newDevice(o, nil)
		d.StallTimeout = 3 * time.Second
		s := &sink{}
		start := time.Now()
		if err, _ := runFor(d, s, 5*time.Second); err != nil {
			t.Fatalf("Run = %v", err)
		}
		if o.count() != 2 {
			t.Fatalf("opened %d times; want 2", o.count())
		}
		// The first frame came at 1/30 s; three 1 s timeouts later the
		// camera counts as stalled, and it is reopened after the backoff.
		if got, want := o.calls[1].Sub(start), time.Second/30+3*time.Second+camera.FirstBackoff; got != want {
			t.Errorf("reopened after %v; want %v", got, want)
		}
		_, sts := s.snapshot()
		want := []string{"starting", "streaming", "reconnecting (" + fmt.Sprintf(camera.ReasonStalled, 3, 3) + ")", "streaming", "stopped"}
		if got := states(sts); !slices.Equal(got, want) {
			t.Errorf("states = %q; want %q", got, want)
		}
	})
}

func TestRunReportsBusyAndRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		busy := func() *fakeCam {
			c := newFakeCam(hd)
			c.setFormatErr = unix.EBUSY
			return c
		}
		free := newFakeCam(hd)
		jpg := testJPEG(t, 16, 16, 0)
		free.live = func() []byte { return jpg }
		o := &opener{results: []any{busy(), busy(), busy(), free}}
		d := newDevice(o, nil)
		s := &sink{}
		if err, _ := runFor(d, s, 3*time.Second); err != nil {
			t.Fatalf("Run = %v; want nil (busy is a state)", err)
		}
		frames, sts := s.snapshot()
		want := []string{"starting", "busy (" + camera.ReasonBusy + ")", "streaming", "stopped"}
		if got := states(sts); !slices.Equal(got, want) {
			t.Errorf("states = %q; want %q", got, want)
		}
		if len(frames) == 0 {
			t.Error("no frames once the camera was free")
		}
	})
}

func TestRunReturnsPromptlyOnCancel(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after time.Duration
		open  any
	}{
		// 7.75 s of backoff have passed; the fifth sleep (5 s) has just begun.
		{"during backoff", 7750*time.Millisecond + time.Millisecond, fmt.Errorf("x: %w", unix.ENODEV)},
		{"while streaming", 2 * time.Second, nil},
		{"while waiting for a frame", 2*time.Second + 500*time.Millisecond, newFakeCam(hd)}, // timeouts only
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				open := tc.open
				if open == nil {
					c := newFakeCam(hd)
					jpg := testJPEG(t, 16, 16, 0)
					c.live = func() []byte { return jpg }
					open = c
				}
				d := newDevice(&opener{results: []any{open}}, nil)
				err, took := runFor(d, &sink{}, tc.after)
				if err != nil {
					t.Fatalf("Run = %v; want nil on cancel", err)
				}
				// WaitForFrame cannot be interrupted: up to its 1 s timeout.
				if took > time.Second {
					t.Errorf("Run returned %v after the cancel; want at most 1s", took)
				}
				if tc.name == "during backoff" && took != 0 {
					t.Errorf("Run returned %v after the cancel; want at once from a backoff sleep", took)
				}
			})
		})
	}
}

func TestRunRejectsConfigurationsThatCannotWork(t *testing.T) {
	h264 := newFakeCam()
	h264.formats[webcam.PixelFormat(0x34363248)] = "H.264"
	tooBig := newFakeCam(camera.Mode{Format: camera.MJPEG, Width: 3840, Height: 2160, FPS: 30})
	for _, tc := range []struct {
		name  string
		set   func(d *camera.Device)
		open  any
		match string
	}{
		{"rotation", func(d *camera.Device) { d.Rotation = 45 }, newFakeCam(hd), "Rotation 45"},
		{"buffers", func(d *camera.Device) { d.Buffers = 64 }, newFakeCam(hd), "Buffers 64"},
		{"size", func(d *camera.Device) { d.MaxWidth = -1 }, newFakeCam(hd), "MaxWidth"},
		{"control", func(d *camera.Device) { d.ControlValues = map[string]int32{" ,": 1} }, newFakeCam(hd), "control"},
		{"not a camera", nil, fmt.Errorf("/dev/sda: %w", camera.ErrNotCaptureDevice), "not a V4L2 capture device"},
		{"no usable format", nil, h264, "no usable MJPEG or YUYV mode"},
		{"every size too big", nil, tooBig, "within 1920x1080"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				d := newDevice(&opener{results: []any{tc.open}}, nil)
				if tc.set != nil {
					tc.set(d)
				}
				err := d.Run(t.Context(), &sink{})
				if err == nil || !strings.Contains(err.Error(), tc.match) {
					t.Errorf("Run = %v; want an error about %q", err, tc.match)
				}
			})
		})
	}
}

func TestRunEncodesYUYV(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const w, h = 64, 48
		// Luma rises left to right; chroma is neutral (128): a gray ramp.
		frame := make([]byte, w*h*2)
		for y := range h {
			for x := 0; x < w; x += 2 {
				p := frame[(y*w+x)*2:]
				p[0], p[1], p[2], p[3] = byte(x*4), 128, byte(x*4+4), 128
			}
		}
		cam := newFakeCam(camera.Mode{Format: camera.YUYV, Width: w, Height: h, FPS: 30})
		cam.steps = []step{{frames: [][]byte{frame[:100]}}} // short: skipped
		cam.live = func() []byte { return frame }
		d := newDevice(&opener{results: []any{cam}}, nil)
		s := &sink{}
		if err, _ := runFor(d, s, time.Second); err != nil {
			t.Fatalf("Run = %v", err)
		}
		frames, sts := s.snapshot()
		if len(frames) == 0 {
			t.Fatal("no frames")
		}
		if sts[1].Format != "YUYV 64x48 30fps" {
			t.Errorf("format = %q; want YUYV 64x48 30fps", sts[1].Format)
		}
		img := decode(t, frames[0].JPEG)
		if img.Bounds().Dx() != w || img.Bounds().Dy() != h || frames[0].Width != w {
			t.Fatalf("decoded %v, frame %dx%d; want %dx%d", img.Bounds(), frames[0].Width, frames[0].Height, w, h)
		}
		for _, x := range []int{4, 30, 60} {
			r, g, b, _ := img.At(x, h/2).RGBA()
			want := x * 4
			for _, c := range []uint32{r >> 8, g >> 8, b >> 8} {
				if d := int(c) - want; d < -8 || d > 8 {
					t.Errorf("pixel (%d,%d) = %d,%d,%d; want gray %d±8", x, h/2, r>>8, g>>8, b>>8, want)
					break
				}
			}
		}
		if c := d.Counters(); c.Skipped != 1 {
			t.Errorf("Skipped = %d; want 1 (the short frame)", c.Skipped)
		}
	})
}

func TestRunLogsRepeatedFailuresRateLimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&logs, nil))
		cam := newFakeCam(hd)
		jpg := testJPEG(t, 16, 16, 0)
		cam.live = func() []byte { return jpg }
		// Ten minutes unplugged (5 s apart: 120 attempts), then back.
		gone := fmt.Errorf("x: %w", unix.ENODEV)
		results := []any{}
		for range 125 {
			results = append(results, gone)
		}
		o := &opener{results: append(results, cam)}
		d := newDevice(o, logger)
		if err, _ := runFor(d, &sink{}, 11*time.Minute); err != nil {
			t.Fatalf("Run = %v", err)
		}
		count := func(msg string) int { return strings.Count(logs.String(), "msg=\""+msg+"\"") }
		if n := count("camera unavailable"); n != 1 {
			t.Errorf("%d \"camera unavailable\" lines; want 1", n)
		}
		if n := count("camera still unavailable"); n < 8 || n > 10 {
			t.Errorf("%d \"camera still unavailable\" lines over 10 minutes; want one a minute", n)
		}
		if n := count("camera recovered"); n != 1 {
			t.Errorf("%d \"camera recovered\" lines; want 1", n)
		}
		if n := strings.Count(logs.String(), "\n"); n > 20 {
			t.Errorf("%d log lines; want few:\n%s", n, logs.String())
		}
	})
}

func TestDeviceIsAFrameSource(t *testing.T) {
	// The Station runs a Device like any source and sees its frames.
	synctest.Test(t, func(t *testing.T) {
		cam := newFakeCam(hd)
		jpg := testJPEG(t, 16, 16, 0)
		cam.live = func() []byte { return jpg }
		st := kiosk.NewStation(newDevice(&opener{results: []any{cam}}, nil), slog.New(slog.DiscardHandler))
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- st.Run(ctx) }()
		f, err := st.NextFrame(ctx, 0)
		if err != nil || !bytes.Equal(f.JPEG, jpg) {
			t.Errorf("NextFrame = %d bytes, %v; want the camera's frame", len(f.JPEG), err)
		}
		if got := st.Status().Camera.State; got != kiosk.CameraStreaming {
			t.Errorf("camera state = %s; want streaming", got)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Station.Run = %v", err)
		}
	})
}

func TestControls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const focusSpecial = webcam.ControlID(0x0A046D01) // a vendor's own control
		addControls := func(c *fakeCam) {
			c.controls = map[webcam.ControlID]webcam.Control{
				webcam.ControlID(camera.ControlExposureAuto):     {Name: "Auto Exposure", Min: 0, Max: 3, Type: 2, Step: 1},
				webcam.ControlID(camera.ControlExposureAbsolute): {Name: "Exposure Time, Absolute", Min: 3, Max: 2047, Step: 1},
				webcam.ControlID(camera.ControlBrightness):       {Name: "Brightness", Min: -64, Max: 64, Step: 1},
				focusSpecial: {Name: "Focus, Special", Min: 0, Max: 10, Step: 1},
			}
		}
		first := newFakeCam(hd)
		addControls(first)
		jpg := testJPEG(t, 16, 16, 0)
		first.steps = []step{{frames: [][]byte{jpg}}, {frames: [][]byte{jpg}}, {timeout: true}, {timeout: true}, {getErr: unix.ENODEV}}
		second := newFakeCam(hd)
		addControls(second)
		second.live = func() []byte { return jpg }
		// Unplugged at 2.07 s; four failed opens (backoff 0.25 to 2 s), then
		// the camera is back at 9.82 s.
		gone := fmt.Errorf("x: %w", unix.ENOENT)
		o := &opener{results: []any{first, gone, gone, gone, gone, second}}
		d := newDevice(o, nil)
		d.ControlValues = map[string]int32{
			"exposure_time_absolute": 300,
			"auto_exposure":          1,
			"Brightness":             10,
			"focus, special":         5, // the camera's own name, in another case
			"no such control":        1, // skipped with a warning
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- d.Run(ctx, &sink{}) }()

		time.Sleep(50 * time.Millisecond) // streaming the first camera
		cs, err := d.Controls(ctx)
		if err != nil {
			t.Fatalf("Controls = %v", err)
		}
		var got []string
		for _, c := range cs {
			got = append(got, fmt.Sprintf("%s %s %s %d..%d =%d", c.ID, c.Name, c.Type, c.Min, c.Max, c.Value))
		}
		want := []string{
			"0x00980900 Brightness int -64..64 =10",
			"0x009a0901 Auto Exposure menu 0..3 =1",
			"0x009a0902 Exposure Time, Absolute int 3..2047 =300",
			"0x0a046d01 Focus, Special int 0..10 =5",
		}
		if !slices.Equal(got, want) {
			t.Errorf("Controls =\n%q\nwant\n%q", got, want)
		}
		if err := d.SetControl(ctx, camera.ControlExposureAbsolute, 500); err != nil {
			t.Errorf("SetControl(exposure, 500) = %v", err)
		}
		if err := d.SetControl(ctx, camera.ControlGain, 5); !errors.Is(err, unix.EINVAL) {
			t.Errorf("SetControl(gain) on a camera without gain = %v; want EINVAL", err)
		}

		time.Sleep(3 * time.Second) // unplugged: in the backoff before the reopen
		if _, err := d.Controls(ctx); !errors.Is(err, camera.ErrCameraGone) {
			t.Errorf("Controls while unplugged = %v; want ErrCameraGone", err)
		}
		time.Sleep(8 * time.Second) // the second camera is streaming
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run = %v", err)
		}

		set := []string{"0x009a0901=1", "0x00980900=10", "0x009a0902=300", "0x0a046d01=5"} // automatic mode first
		wantFirst := slices.Concat(set, []string{"start"}, set, []string{"0x009a0902=500"})
		if !slices.Equal(first.setLog, wantFirst) {
			t.Errorf("first camera's controls set =\n%q\nwant\n%q", first.setLog, wantFirst)
		}
		// The value set through SetControl survives the reopen.
		set2 := []string{"0x009a0901=1", "0x00980900=10", "0x0a046d01=5", "0x009a0902=500"}
		wantSecond := slices.Concat(set2, []string{"start"}, set2)
		if !slices.Equal(second.setLog, wantSecond) {
			t.Errorf("second camera's controls set =\n%q\nwant\n%q", second.setLog, wantSecond)
		}
	})
}

func TestControlsWithoutCamera(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDevice(&opener{results: []any{fmt.Errorf("x: %w", unix.ENOENT)}}, nil)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- d.Run(ctx, &sink{}) }()
		time.Sleep(100 * time.Millisecond)
		if _, err := d.Controls(ctx); !errors.Is(err, camera.ErrCameraGone) {
			t.Errorf("Controls with the camera missing = %v; want ErrCameraGone", err)
		}
		if err := d.SetControl(ctx, camera.ControlGain, 1); !errors.Is(err, camera.ErrCameraGone) {
			t.Errorf("SetControl with the camera missing = %v; want ErrCameraGone", err)
		}
		cancel()
		<-done
		// Nothing runs the camera now: the call waits for its context.
		short, cancel2 := context.WithTimeout(t.Context(), time.Second)
		defer cancel2()
		if _, err := d.Controls(short); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Controls after Run = %v; want the context's error", err)
		}
	})
}

func TestParseControlID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want camera.ControlID
		err  bool
	}{
		{"exposure_time_absolute", camera.ControlExposureAbsolute, false},
		{"Exposure Time, Absolute", camera.ControlExposureAbsolute, false},
		{"0x009a0902", camera.ControlExposureAbsolute, false},
		{"10094850", camera.ControlExposureAbsolute, false},
		{"white_balance_automatic", camera.ControlWhiteBalanceAuto, false},
		{"no such thing", 0, true},
		{"0x1FFFFFFFF", 0, true},
	} {
		got, err := camera.ParseControlID(tc.in)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("ParseControlID(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}
