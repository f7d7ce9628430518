package camera

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/blackjack/webcam"
	"golang.org/x/sys/unix"

	"kioskd/kiosk"
)

// Defaults for the Device fields.
const (
	DefaultMaxWidth     = 1920
	DefaultMaxHeight    = 1080
	DefaultMinFPS       = 15
	DefaultBuffers      = 4
	DefaultStallTimeout = 5 * time.Second
	DefaultYUYVQuality  = 90
)

// Backoff between attempts to open the camera: doubling from the first to
// the last, reset once a session has delivered a frame.
const (
	firstBackoff = 250 * time.Millisecond
	maxBackoff   = 5 * time.Second
)

// emptyWakePause paces the loop when poll reports the device ready but no
// buffer can be dequeued, so that a device in a strange state costs at
// most a hundred wake-ups a second rather than a spinning core.
const emptyWakePause = 10 * time.Millisecond

// failureLogEvery limits how often an unchanged failure is logged again.
const failureLogEvery = time.Minute

// maxDrain bounds one drain of the driver's queue; a real queue holds at
// most Buffers frames, so this only guards against a driver that never
// reports an empty queue.
const maxDrain = 64

var (
	// ErrCameraGone is returned by Controls and SetControl while the camera
	// is not open (unplugged, busy, being reopened).
	ErrCameraGone = errors.New("camera not available")
	// ErrNotCaptureDevice means a path is not a V4L2 video capture device:
	// not a character device, not V4L2, or a node without video capture
	// (such as the metadata node of a UVC camera). Run returns it, wrapped,
	// because retrying cannot help.
	ErrNotCaptureDevice = errors.New("not a V4L2 capture device")
	// errStalled ends a session that has had no frame for StallTimeout.
	errStalled = errors.New("camera stalled")
)

// Reasons in CameraStatus.Reason, zh-CN first, English second.
const (
	ReasonUnplugged  = "摄像头已断开 / camera unplugged"
	ReasonIOError    = "摄像头读取错误 / camera I/O error"
	ReasonBusy       = "摄像头被其他程序占用 / camera in use by another program"
	ReasonPermission = "没有摄像头访问权限 / no permission to open the camera"
	ReasonOpenFailed = "摄像头无法启动 / camera failed to start"
	// ReasonStalled is a format with the number of seconds without a frame.
	ReasonStalled = "摄像头 %d 秒无画面 / stalled: no frame for %d s"
)

// v4l2Device is the part of *webcam.Webcam the Device uses. One goroutine
// (Run's) owns each value: the library has no locks.
type v4l2Device interface {
	modeLister
	GetName() (string, error)
	GetBusInfo() (string, error)
	SetImageFormat(webcam.PixelFormat, uint32, uint32) (webcam.PixelFormat, uint32, uint32, error)
	SetBufferCount(uint32) error
	SetFramerate(float32) error
	StartStreaming() error
	WaitForFrame(uint32) error
	GetFrame() ([]byte, uint32, error)
	ReleaseFrame(uint32) error
	GetControls() map[webcam.ControlID]webcam.Control
	GetControl(webcam.ControlID) (int32, error)
	SetControl(webcam.ControlID, int32) error
	Close() error
}

// opener opens a camera; openWebcam in production, a fake in tests.
type opener func(path string) (v4l2Device, error)

var _ kiosk.FrameSource = (*Device)(nil)

// Device is a V4L2 camera as a kiosk.FrameSource. Run opens it, picks a
// mode, streams JPEG frames to the sink and reopens it when it goes away.
// The exported fields are its configuration: set them before Run. Make
// Devices with NewDevice; Run may be called once at a time.
type Device struct {
	// Path is the device node. Empty means the first capture device under
	// /dev/v4l/by-id (a *-video-index0 link first), else /dev/video0,
	// looked up again on every attempt to open. Prefer a by-id path: the
	// /dev/videoN number can change when the camera is plugged in again.
	Path string
	// MaxWidth and MaxHeight bound the size asked for;
	// DefaultMaxWidth x DefaultMaxHeight if 0.
	MaxWidth, MaxHeight int
	// MinFPS is the lowest frame rate a mode must offer to be preferred;
	// DefaultMinFPS if 0.
	MinFPS int
	// Buffers is how many driver buffers to ask for; DefaultBuffers if 0.
	// Few buffers keep the preview fresh: the driver fills all of them
	// before it drops anything.
	Buffers int
	// Rotation (0, 90, 180 or 270) is copied into every kiosk.Frame: how
	// far the picture must be turned clockwise for a camera mounted on its
	// side. The bytes are never rotated.
	Rotation int
	// ControlValues are set on every open, before and again after streaming
	// starts (some cameras reset them then), and read back. Keys are
	// control names (ControlNames, or the camera's own name in any case
	// with spaces) or numeric ids ("0x009a0902"). Automatic modes are set
	// before manual values, so that the manual values take effect.
	ControlValues map[string]int32
	// StallTimeout is how long the camera may deliver no usable frame
	// before it is closed and opened again; DefaultStallTimeout if 0.
	StallTimeout time.Duration
	// YUYVQuality is the JPEG quality YUYV frames are encoded at;
	// DefaultYUYVQuality if 0.
	YUYVQuality int

	logger *slog.Logger
	open   opener
	reqs   chan controlRequest

	frames, skipped, dropped, opens atomic.Uint64
}

// NewDevice returns a Device for the camera at path ("" for the first
// camera found).
func NewDevice(path string, logger *slog.Logger) *Device {
	return &Device{
		Path:   path,
		logger: logger.With("component", "camera"),
		open:   openWebcam,
		reqs:   make(chan controlRequest),
	}
}

// Counters are the Device's running totals since it was made.
type Counters struct {
	Frames  uint64 // delivered to the sink
	Skipped uint64 // empty, truncated or corrupt: never delivered
	Dropped uint64 // older frames released unread because a newer one was queued
	Opens   uint64 // attempts to open the camera
}

// Counters returns the running totals. It is safe to call at any time.
func (d *Device) Counters() Counters {
	return Counters{
		Frames:  d.frames.Load(),
		Skipped: d.skipped.Load(),
		Dropped: d.dropped.Load(),
		Opens:   d.opens.Load(),
	}
}

// config is the validated configuration of one Run.
type config struct {
	maxW, maxH  int
	minFPS      float64
	buffers     int
	rotation    int
	stall       time.Duration
	yuyvQuality int
	controls    []controlSetting
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// config validates the fields. Its errors are configurations that can
// never work, the only errors Run returns.
func (d *Device) config() (config, error) {
	c := config{
		maxW:        orDefault(d.MaxWidth, DefaultMaxWidth),
		maxH:        orDefault(d.MaxHeight, DefaultMaxHeight),
		minFPS:      float64(orDefault(d.MinFPS, DefaultMinFPS)),
		buffers:     orDefault(d.Buffers, DefaultBuffers),
		rotation:    d.Rotation,
		stall:       orDefault(d.StallTimeout, DefaultStallTimeout),
		yuyvQuality: orDefault(d.YUYVQuality, DefaultYUYVQuality),
	}
	switch {
	case c.maxW < 0 || c.maxH < 0:
		return c, fmt.Errorf("camera MaxWidth x MaxHeight %dx%d: must be positive", c.maxW, c.maxH)
	case c.minFPS < 0:
		return c, fmt.Errorf("camera MinFPS %v: must not be negative", c.minFPS)
	case c.buffers < 2 || c.buffers > 32:
		return c, fmt.Errorf("camera Buffers %d: must be 2 to 32", c.buffers)
	case c.rotation != 0 && c.rotation != 90 && c.rotation != 180 && c.rotation != 270:
		return c, fmt.Errorf("camera Rotation %d: must be 0, 90, 180 or 270", c.rotation)
	case c.stall < time.Second:
		return c, fmt.Errorf("camera StallTimeout %v: must be at least 1s", c.stall)
	case c.yuyvQuality < 1 || c.yuyvQuality > 100:
		return c, fmt.Errorf("camera YUYVQuality %d: must be 1 to 100", c.yuyvQuality)
	}
	var err error
	if c.controls, err = parseControlSettings(d.ControlValues); err != nil {
		return c, err
	}
	return c, nil
}

// Run streams frames to sink until ctx is done, and returns nil then. It
// returns an error only for a configuration that can never work: invalid
// fields, a path that is not a V4L2 capture device, a camera without a
// usable mode. A camera that is missing, unplugged, busy or stalled is a
// state reported through sink, and Run keeps trying with a backoff.
func (d *Device) Run(ctx context.Context, sink kiosk.FrameSink) error {
	cfg, err := d.config()
	if err != nil {
		return err
	}
	r := &run{d: d, cfg: cfg, sink: sink, backoff: firstBackoff, controls: cfg.controls}
	defer r.setStatus(kiosk.CameraStopped, "", "")
	r.setStatus(kiosk.CameraStarting, "", "")
	for {
		err := r.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrNotCaptureDevice) || errors.Is(err, errNoMode) {
			d.logger.Error("camera cannot work", "device", r.path, "err", err)
			return err
		}
		r.failed(err)
		if !r.sleep(ctx) {
			return nil
		}
	}
}

// run is the state of one Run, owned by its goroutine.
type run struct {
	d    *Device
	cfg  config
	sink kiosk.FrameSink
	path string // the path of the current or last attempt

	status  kiosk.CameraStatus
	backoff time.Duration

	// For the log: the failure being repeated, since when, how often,
	// and when it was last logged.
	failReason   string
	failSince    time.Time
	failCount    int
	failLoggedAt time.Time

	// controls are the settings applied on every open: the configured
	// ones, then those changed through SetControl.
	controls []controlSetting
}

// setStatus reports a state to the sink when it differs from the last one.
func (r *run) setStatus(state kiosk.CameraState, format, reason string) {
	if r.status.State == state && r.status.Format == format && r.status.Reason == reason && r.status.Device == r.path {
		return
	}
	r.status = kiosk.CameraStatus{
		State:  state,
		Source: kiosk.SourceV4L2,
		Device: r.path,
		Format: format,
		Reason: reason,
		Since:  time.Now(),
	}
	r.sink.SetCameraStatus(r.status)
}

// failed reports a failed session as a state and logs it: the first time a
// reason appears, then at most once per failureLogEvery while it repeats.
func (r *run) failed(err error) {
	state, reason := classify(err, r.cfg.stall)
	r.setStatus(state, "", reason)
	now := time.Now()
	if reason != r.failReason {
		r.failReason, r.failSince, r.failCount, r.failLoggedAt = reason, now, 1, now
		r.d.logger.Warn("camera unavailable", "device", r.path, "state", state, "err", err, "fix", fixFor(reason, r.path))
		return
	}
	r.failCount++
	if now.Sub(r.failLoggedAt) >= failureLogEvery {
		r.failLoggedAt = now
		r.d.logger.Warn("camera still unavailable", "device", r.path, "state", state,
			"attempts", r.failCount, "for", now.Sub(r.failSince).Round(time.Second), "err", err)
	}
}

// recovered is called on the first frame of a session: it ends a failure
// streak with one log line and resets the backoff.
func (r *run) recovered() {
	r.backoff = firstBackoff
	if r.failReason != "" {
		r.d.logger.Info("camera recovered", "device", r.path, "attempts", r.failCount,
			"after", time.Since(r.failSince).Round(time.Millisecond))
		r.failReason, r.failCount = "", 0
	}
}

// sleep waits out the backoff and doubles it. It answers control requests
// meanwhile (the camera is not open) and returns false when ctx is done.
func (r *run) sleep(ctx context.Context) bool {
	t := time.NewTimer(r.backoff)
	defer t.Stop()
	r.backoff = min(2*r.backoff, maxBackoff)
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		case req := <-r.d.reqs:
			req.reply <- controlReply{err: ErrCameraGone}
		}
	}
}

// fixFor is what the installer should do about a failure, for the log.
func fixFor(reason, path string) string {
	switch reason {
	case ReasonBusy:
		return "close the other program that uses the camera (find it with: fuser -v " + path + "); kioskd keeps retrying"
	case ReasonPermission:
		return "add the user kioskd runs as to the video group, or install the udev rule from deploy/"
	case ReasonUnplugged:
		return "plug the camera in again (kioskd reopens it by itself); check the cable and `kioskd devices`"
	}
	return "kioskd keeps retrying; if it persists, replug the camera and run `kioskd doctor`"
}

// classify maps a session's error to the state and reason shown.
func classify(err error, stall time.Duration) (kiosk.CameraState, string) {
	switch {
	case errors.Is(err, unix.EBUSY):
		return kiosk.CameraBusy, ReasonBusy
	case errors.Is(err, errStalled):
		s := int(stall.Round(time.Second) / time.Second)
		return kiosk.CameraReconnecting, fmt.Sprintf(ReasonStalled, s, s)
	case errors.Is(err, unix.ENODEV), errors.Is(err, unix.ENXIO), errors.Is(err, unix.ENOENT):
		return kiosk.CameraReconnecting, ReasonUnplugged
	case errors.Is(err, unix.EIO), errors.Is(err, unix.EBADF):
		return kiosk.CameraReconnecting, ReasonIOError
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return kiosk.CameraReconnecting, ReasonPermission
	}
	return kiosk.CameraReconnecting, ReasonOpenFailed
}

// openWebcam opens a real camera after checking that path is a video
// capture node, so that the UVC metadata node and non-V4L2 devices are told
// apart from a camera that is merely missing.
func openWebcam(path string) (v4l2Device, error) {
	if err := probe(path); err != nil {
		return nil, err
	}
	cam, err := webcam.Open(path)
	if err != nil {
		return nil, err
	}
	return cam, nil
}
