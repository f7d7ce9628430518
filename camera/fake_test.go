package camera_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/blackjack/webcam"
	"golang.org/x/sys/unix"

	"kioskd/camera"
	"kioskd/kiosk"
)

// step is what one WaitForFrame call of a fakeCam does.
type step struct {
	timeout  bool     // sleep 1 s and time out
	spurious bool     // report ready with nothing to dequeue
	frames   [][]byte // queue these for GetFrame
	getErr   error    // then fail GetFrame with this (ENODEV: unplugged)
	waitErr  error    // fail WaitForFrame itself
}

type rateKey struct {
	pf   webcam.PixelFormat
	w, h uint32
}

// fakeCam is a scripted camera. Its buffers behave like the driver's: a
// dequeued buffer is overwritten when it is released, so a reader that
// keeps the slice after ReleaseFrame sees garbage.
type fakeCam struct {
	mu sync.Mutex

	name    string
	formats map[webcam.PixelFormat]string
	sizes   map[webcam.PixelFormat][]webcam.FrameSize
	rates   map[rateKey][]webcam.FrameRate

	setFormatErr error // returned by SetImageFormat
	startErr     error // returned by StartStreaming
	steps        []step
	live         func() []byte // after the steps: a frame every 1/30 s; nil: time out

	controls map[webcam.ControlID]webcam.Control
	values   map[webcam.ControlID]int32
	setLog   []string // "0x...=v" for each SetControl, "start" at StartStreaming

	queue       [][]byte
	getErr      error
	spurious    bool
	bufs        [4][]byte
	outstanding [4]bool
	waits       int
	closed      bool
	streaming   bool
	requested   []camera.Mode // SetImageFormat calls
	buffers     uint32
	fps         float32
}

// newFakeCam returns a camera offering modes (FPS as the only rate).
func newFakeCam(modes ...camera.Mode) *fakeCam {
	c := &fakeCam{
		name:     "Fake Cam",
		formats:  map[webcam.PixelFormat]string{},
		sizes:    map[webcam.PixelFormat][]webcam.FrameSize{},
		rates:    map[rateKey][]webcam.FrameRate{},
		controls: map[webcam.ControlID]webcam.Control{},
		values:   map[webcam.ControlID]int32{},
	}
	for _, m := range modes {
		c.addMode(m.Format, m.Width, m.Height, m.FPS)
	}
	return c
}

func (c *fakeCam) addMode(pf camera.PixelFormat, w, h int, fps ...float64) {
	p := webcam.PixelFormat(pf)
	c.formats[p] = map[camera.PixelFormat]string{camera.MJPEG: "Motion-JPEG", camera.YUYV: "YUYV 4:2:2"}[pf]
	fs := webcam.FrameSize{MinWidth: uint32(w), MaxWidth: uint32(w), MinHeight: uint32(h), MaxHeight: uint32(h)}
	if !slices.Contains(c.sizes[p], fs) {
		c.sizes[p] = append(c.sizes[p], fs)
	}
	k := rateKey{p, uint32(w), uint32(h)}
	for _, f := range fps {
		den := uint32(f * 1000)
		c.rates[k] = append(c.rates[k], webcam.FrameRate{MinNumerator: 1000, MaxNumerator: 1000, MinDenominator: den, MaxDenominator: den})
	}
}

func (c *fakeCam) GetSupportedFormats() map[webcam.PixelFormat]string { return c.formats }
func (c *fakeCam) GetSupportedFrameSizes(p webcam.PixelFormat) []webcam.FrameSize {
	return c.sizes[p]
}
func (c *fakeCam) GetSupportedFramerates(p webcam.PixelFormat, w, h uint32) []webcam.FrameRate {
	if r, ok := c.rates[rateKey{p, w, h}]; ok {
		return r
	}
	return c.rates[rateKey{p, 0, 0}] // the rates of every size
}
func (c *fakeCam) GetName() (string, error)    { return c.name, nil }
func (c *fakeCam) GetBusInfo() (string, error) { return "usb-fake-1", nil }

func (c *fakeCam) SetImageFormat(p webcam.PixelFormat, w, h uint32) (webcam.PixelFormat, uint32, uint32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requested = append(c.requested, camera.Mode{Format: camera.PixelFormat(p), Width: int(w), Height: int(h)})
	if c.setFormatErr != nil {
		return 0, 0, 0, c.setFormatErr
	}
	return p, w, h, nil // like the library: the size asked for
}

func (c *fakeCam) SetBufferCount(n uint32) error { c.buffers = n; return nil }
func (c *fakeCam) SetFramerate(f float32) error  { c.fps = f; return nil }

func (c *fakeCam) StartStreaming() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.startErr != nil {
		return c.startErr
	}
	c.streaming = true
	c.setLog = append(c.setLog, "start")
	return nil
}

func (c *fakeCam) WaitForFrame(timeout uint32) error {
	if timeout != 1 {
		panic(fmt.Sprintf("WaitForFrame(%d): the loop must wait 1 s", timeout))
	}
	c.mu.Lock()
	c.waits++
	if c.closed || !c.streaming {
		c.mu.Unlock()
		return unix.EBADF
	}
	if len(c.queue) > 0 || c.getErr != nil || c.spurious {
		c.mu.Unlock()
		return nil
	}
	if len(c.steps) == 0 {
		live := c.live
		c.mu.Unlock()
		if live == nil {
			time.Sleep(time.Second)
			return &webcam.Timeout{}
		}
		time.Sleep(time.Second / 30)
		c.mu.Lock()
		c.queue = append(c.queue, live())
		c.mu.Unlock()
		return nil
	}
	s := c.steps[0]
	c.steps = c.steps[1:]
	c.queue = append(c.queue, s.frames...)
	c.getErr, c.spurious = s.getErr, s.spurious
	c.mu.Unlock()
	switch {
	case s.timeout:
		time.Sleep(time.Second)
		return &webcam.Timeout{}
	case s.waitErr != nil:
		return s.waitErr
	case len(s.frames) > 0:
		time.Sleep(time.Second / 30) // the frame's exposure
	}
	return nil // an unplugged camera wakes the poll at once
}

func (c *fakeCam) GetFrame() ([]byte, uint32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, 0, unix.EBADF
	}
	if len(c.queue) == 0 {
		if c.getErr != nil {
			return nil, 0, c.getErr
		}
		return nil, 0, unix.EAGAIN
	}
	slot := slices.Index(c.outstanding[:], false)
	if slot < 0 {
		return nil, 0, unix.EAGAIN // every buffer is dequeued
	}
	f := c.queue[0]
	c.queue = c.queue[1:]
	c.bufs[slot] = append(c.bufs[slot][:0], f...)
	c.outstanding[slot] = true
	return c.bufs[slot], uint32(slot), nil
}

func (c *fakeCam) ReleaseFrame(i uint32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if int(i) >= len(c.outstanding) || !c.outstanding[i] {
		return unix.EINVAL
	}
	c.outstanding[i] = false
	for j := range c.bufs[i] {
		c.bufs[i][j] = 0xAA // the driver writes the next frame here
	}
	return nil
}

func (c *fakeCam) GetControls() map[webcam.ControlID]webcam.Control { return c.controls }

func (c *fakeCam) GetControl(id webcam.ControlID) (int32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.controls[id]; !ok {
		return 0, unix.EINVAL
	}
	return c.values[id], nil
}

func (c *fakeCam) SetControl(id webcam.ControlID, v int32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	ctl, ok := c.controls[id]
	if !ok {
		return unix.EINVAL
	}
	if v < ctl.Min || v > ctl.Max {
		return unix.ERANGE
	}
	c.values[id] = v
	c.setLog = append(c.setLog, fmt.Sprintf("%s=%d", camera.ControlID(id), v))
	return nil
}

func (c *fakeCam) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}

// state returns a snapshot of what the loop did to the camera.
func (c *fakeCam) state() (waits int, closed bool, outstanding int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range c.outstanding {
		if o {
			outstanding++
		}
	}
	return c.waits, c.closed, outstanding
}

// opener hands out results in order, then repeats the last one, and
// records when each call came.
type opener struct {
	mu      sync.Mutex
	results []any // *fakeCam or error
	calls   []time.Time
}

func (o *opener) open(path string) (camera.V4L2Device, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls = append(o.calls, time.Now())
	r := o.results[0]
	if len(o.results) > 1 {
		o.results = o.results[1:]
	}
	if c, ok := r.(*fakeCam); ok {
		return c, nil
	}
	return nil, r.(error)
}

func (o *opener) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.calls)
}

// sink records what a source delivers.
type sink struct {
	mu       sync.Mutex
	frames   []kiosk.Frame
	statuses []kiosk.CameraStatus
}

func (s *sink) PutFrame(f kiosk.Frame) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.frames = append(s.frames, f)
}

func (s *sink) SetCameraStatus(st kiosk.CameraStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.statuses = append(s.statuses, st)
}

func (s *sink) snapshot() ([]kiosk.Frame, []kiosk.CameraStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.frames), slices.Clone(s.statuses)
}

// states lists the states reported, with the reason where there is one.
func states(sts []kiosk.CameraStatus) []string {
	var out []string
	for _, st := range sts {
		s := string(st.State)
		if st.Reason != "" {
			s += " (" + st.Reason + ")"
		}
		out = append(out, s)
	}
	return out
}

// newDevice returns a Device at a fake path that opens cameras through o.
func newDevice(o *opener, logger *slog.Logger) *camera.Device {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	d := camera.NewDevice("/dev/v4l/by-id/usb-Fake_Cam-video-index0", logger)
	camera.SetOpener(d, o.open)
	return d
}

// runFor runs d for dur of (bubble) time, cancels it and returns Run's
// result and how long Run took to return after the cancel.
func runFor(d *camera.Device, s kiosk.FrameSink, dur time.Duration) (error, time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- d.Run(ctx, s) }()
	time.Sleep(dur)
	cancel()
	at := time.Now()
	err := <-errc
	return err, time.Since(at)
}

// testJPEG encodes a w x h picture with a colour gradient and a mark that
// depends on seed, so frames can be told apart after decoding.
func testJPEG(tb testing.TB, w, h int, seed uint8) []byte {
	tb.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), seed, 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 85}); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// stripDHT removes the DHT segments from a JPEG stream made by Go's
// encoder (which writes them with the Annex K tables), as some UVC cameras
// send frames.
func stripDHT(tb testing.TB, b []byte) []byte {
	tb.Helper()
	out := append([]byte(nil), b[:2]...)
	i := 2
	for i+4 <= len(b) && b[i] == 0xFF && b[i+1] != 0xDA {
		n := int(b[i+2])<<8 | int(b[i+3])
		if b[i+1] != 0xC4 {
			out = append(out, b[i:i+2+n]...)
		}
		i += 2 + n
	}
	out = append(out, b[i:]...)
	if bytes.Contains(out[:bytes.Index(out, []byte{0xFF, 0xDA})], []byte{0xFF, 0xC4}) || len(out) == len(b) {
		tb.Fatal("stripDHT left a DHT segment")
	}
	return out
}

// decode decodes a delivered frame or fails the test.
func decode(tb testing.TB, b []byte) image.Image {
	tb.Helper()
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		tb.Fatalf("delivered frame (%d bytes) does not decode: %v", len(b), err)
	}
	return img
}
