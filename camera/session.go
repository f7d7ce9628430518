package camera

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/blackjack/webcam"
	"golang.org/x/sys/unix"

	"kioskd/kiosk"
)

// session opens the camera once and streams from it until ctx is done or
// the camera fails. The camera is closed before it returns, always from
// this goroutine: the library must not be used from two.
func (r *run) session(ctx context.Context) error {
	d := r.d
	r.path = d.Path
	if r.path == "" {
		r.path = AutoPath()
	}
	d.opens.Add(1)
	cam, err := d.open(r.path)
	if err != nil {
		return fmt.Errorf("open camera %s: %w", r.path, err)
	}
	defer cam.Close()

	mode, err := chooseMode(cam, r.cfg.maxW, r.cfg.maxH, r.cfg.minFPS)
	if err != nil {
		return fmt.Errorf("camera %s: %w", r.path, err)
	}
	pf, w, h, err := cam.SetImageFormat(webcam.PixelFormat(mode.Format), uint32(mode.Width), uint32(mode.Height))
	if err != nil {
		return fmt.Errorf("set camera %s to %s: %w", r.path, mode, err)
	}
	if PixelFormat(pf) != mode.Format {
		return fmt.Errorf("set camera %s to %s: driver chose %s instead", r.path, mode, PixelFormat(pf))
	}
	// The library returns the size asked for, not the driver's; MJPEG
	// frames carry their real size, and YUYV frames are checked against it.
	mode.Width, mode.Height = int(w), int(h)
	if err := cam.SetBufferCount(uint32(r.cfg.buffers)); err != nil {
		return fmt.Errorf("set camera %s buffers: %w", r.path, err)
	}
	if mode.FPS > 0 {
		if err := cam.SetFramerate(float32(mode.FPS)); err != nil {
			// Many cameras refuse or ignore it; the mode still works.
			d.logger.Debug("camera frame rate not set", "device", r.path, "fps", mode.FPS, "err", err)
		}
	}
	r.applyControls(cam, false)
	if err := cam.StartStreaming(); err != nil {
		return fmt.Errorf("start camera %s streaming %s: %w", r.path, mode, err)
	}
	r.applyControls(cam, true)

	conv := newConverter(mode, r.cfg.yuyvQuality)
	lastFrame := time.Now()
	streaming := false
	for {
		if ctx.Err() != nil {
			return nil
		}
		r.serveControls(cam)

		err := cam.WaitForFrame(1)
		var timeout *webcam.Timeout
		if errors.As(err, &timeout) {
			if time.Since(lastFrame) >= r.cfg.stall {
				return fmt.Errorf("camera %s: %w", r.path, errStalled)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("wait for camera %s: %w", r.path, err)
		}
		f, ok, err := r.grab(cam, conv)
		if ok {
			f.Time = time.Now()
			f.Rotation = r.cfg.rotation
			lastFrame = f.Time
			if !streaming {
				streaming = true
				r.recovered()
				shown := mode
				shown.Width, shown.Height = f.Width, f.Height
				r.setStatus(kiosk.CameraStreaming, shown.String(), "")
				d.logger.Info("camera streaming", "device", r.path, "mode", shown.String(), "buffers", r.cfg.buffers)
			}
			d.frames.Add(1)
			r.sink.PutFrame(f)
		}
		if err != nil {
			return fmt.Errorf("read camera %s: %w", r.path, err)
		}
		if time.Since(lastFrame) >= r.cfg.stall {
			return fmt.Errorf("camera %s: %w", r.path, errStalled)
		}
		if !ok {
			pause(ctx, emptyWakePause)
		}
	}
}

// grab drains the driver's queue, releases every buffer but the newest,
// converts the newest (its one copy out of driver memory) and releases it.
// ok reports whether f holds a usable frame; err a failure of the device,
// which may come with a usable frame.
func (r *run) grab(cam v4l2Device, conv *converter) (f kiosk.Frame, ok bool, err error) {
	var (
		last []byte
		idx  uint32
		have bool
	)
	for range maxDrain {
		b, i, gerr := cam.GetFrame()
		if errors.Is(gerr, unix.EAGAIN) {
			break
		}
		if gerr != nil {
			err = gerr
			break
		}
		if have {
			r.d.dropped.Add(1)
			if rerr := cam.ReleaseFrame(idx); rerr != nil {
				have = false
				_ = cam.ReleaseFrame(i)
				return f, false, fmt.Errorf("release buffer: %w", rerr)
			}
		}
		last, idx, have = b, i, true
	}
	if !have {
		return f, false, err
	}
	jpg, w, h, cerr := conv.convert(last)
	// The buffer goes back to the driver only after the copy: until then
	// the driver must not write into it.
	if rerr := cam.ReleaseFrame(idx); rerr != nil && err == nil {
		err = fmt.Errorf("release buffer: %w", rerr)
	}
	if cerr != nil {
		// Counted, not logged: a bad cable can corrupt every frame.
		r.d.skipped.Add(1)
		return f, false, err
	}
	return kiosk.Frame{JPEG: jpg, Width: w, Height: h}, true, err
}

// pause sleeps for d or until ctx is done.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
