package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"kioskd/camera"
	"kioskd/kiosk"
)

// Frame rates.
const (
	DefaultFPS = 15
	MaxFPS     = 120
)

var _ kiosk.FrameSource = (*Source)(nil)

// Source is the replay camera: it plays a folder of JPEG files, or an MJPEG
// file, as the station's camera. Create it with Open.
type Source struct {
	// FPS is the rate at which frames are played, above 0 and up to
	// MaxFPS; DefaultFPS if 0.
	FPS float64
	// Loop plays the frames again from the start after the last one. Open
	// sets it; without it the source reports the camera stopped after the
	// last frame and waits for the end.
	Loop bool
	// Rotation is copied to every frame (kiosk.Frame.Rotation): 0, 90, 180
	// or 270, for recordings of a camera mounted on its side.
	Rotation int
	// MaxFrame is the largest frame accepted, in bytes; DefaultMaxFrame
	// if 0. Larger frames are skipped.
	MaxFrame int

	path  string
	files []string // the JPEG files in name order; nil for an MJPEG file

	played  atomic.Uint64
	skipped atomic.Uint64
}

// Open prepares to replay path: a folder, whose .jpg and .jpeg files are
// played in the order of their names, or a file holding JPEG images one
// after the other (an MJPEG recording, a multipart/x-mixed-replace body, or
// a single JPEG). It fails when the path cannot be read, when a folder
// holds no JPEG file, or when a file holds no JPEG image. Fields may be set
// before Run; Loop is on.
func Open(path string) (*Source, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("replay: cannot open %s (want a folder of JPEG files or an MJPEG file): %w", path, pathless(err))
	}
	s := &Source{FPS: DefaultFPS, Loop: true, path: path}
	if fi.IsDir() {
		s.files, err = jpegFiles(path)
		if err != nil {
			return nil, fmt.Errorf("replay: cannot list folder %s: %w", path, pathless(err))
		}
		if len(s.files) == 0 {
			return nil, fmt.Errorf("replay: folder %s holds no .jpg or .jpeg file", path)
		}
		return s, nil
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("replay: %s is neither a folder nor a regular file (want a folder of JPEG files or an MJPEG file)", path)
	}
	if err := s.checkStream(); err != nil {
		return nil, err
	}
	return s, nil
}

// checkStream reads the file up to its first usable frame.
func (s *Source) checkStream() error {
	f, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("replay: cannot open %s (want a folder of JPEG files or an MJPEG file): %w", s.path, pathless(err))
	}
	defer f.Close()
	sp := NewSplitter(f, s.MaxFrame)
	for {
		b, err := sp.Next()
		switch {
		case errors.Is(err, io.EOF):
			return fmt.Errorf("replay: %s holds no JPEG image (want an MJPEG file: JPEG images one after the other)", s.path)
		case errors.Is(err, ErrBadFrame):
			continue
		case err != nil:
			return fmt.Errorf("replay: cannot read %s: %w", s.path, pathless(err))
		}
		if _, _, _, err := camera.NormalizeJPEG(b); err == nil {
			return nil
		}
	}
}

// jpegFiles lists the .jpg and .jpeg files of dir (any case, no hidden
// files) in the order of their names.
func jpegFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		name := e.Name()
		ext := strings.ToLower(filepath.Ext(name))
		if strings.HasPrefix(name, ".") || (ext != ".jpg" && ext != ".jpeg") || e.IsDir() {
			continue
		}
		files = append(files, filepath.Join(dir, name))
	}
	slices.Sort(files)
	return files, nil
}

// pathless drops the path from an *fs.PathError, whose message would
// repeat it.
func pathless(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Played returns how many frames the source has delivered.
func (s *Source) Played() uint64 { return s.played.Load() }

// Skipped returns how many frames the source has skipped because they were
// not usable JPEG images (cut short, malformed, too large, unreadable).
func (s *Source) Skipped() uint64 { return s.skipped.Load() }

// Run plays the frames to sink, one every 1/FPS seconds, until ctx is
// done, and then returns nil. Each frame is checked and normalized by
// camera.NormalizeJPEG; frames that fail are skipped and counted. Run fails
// when a field is invalid, when the file can no longer be read, or when a
// whole pass over the frames found none that is usable.
func (s *Source) Run(ctx context.Context, sink kiosk.FrameSink) error {
	fps := s.FPS
	if fps == 0 {
		fps = DefaultFPS
	}
	if !(fps > 0 && fps <= MaxFPS) {
		return fmt.Errorf("replay: FPS %g out of range (0, %d]", fps, MaxFPS)
	}
	switch s.Rotation {
	case 0, 90, 180, 270:
	default:
		return fmt.Errorf("replay: Rotation %d is not 0, 90, 180 or 270", s.Rotation)
	}
	maxFrame := s.MaxFrame
	if maxFrame <= 0 {
		maxFrame = DefaultMaxFrame
	}
	if ctx.Err() != nil {
		return nil
	}

	status := kiosk.CameraStatus{State: kiosk.CameraStreaming, Source: kiosk.SourceReplay, Device: s.path}
	kind := "MJPEG"
	if s.files != nil {
		kind = "JPEG files"
	}
	tick := time.NewTicker(time.Duration(float64(time.Second) / fps))
	defer tick.Stop()
	delivered := 0
	for {
		p, err := s.pass(maxFrame)
		if err != nil {
			return err
		}
		good, err := s.play(ctx, p, sink, &status, func(w, h int) string {
			return fmt.Sprintf("%s %dx%d %gfps (replay)", kind, w, h, fps)
		}, tick.C, delivered > 0)
		delivered += good
		p.close()
		switch {
		case ctx.Err() != nil:
			status.State, status.Reason, status.Since = kiosk.CameraStopped, "replay stopped", time.Now()
			sink.SetCameraStatus(status)
			return nil
		case err != nil:
			return err
		case good == 0:
			return fmt.Errorf("replay: %s: no usable JPEG image in a whole pass (%d skipped)", s.path, s.Skipped())
		case !s.Loop:
			status.State, status.Since = kiosk.CameraStopped, time.Now()
			status.Reason = "end of replay"
			if n := s.Skipped(); n > 0 {
				status.Reason = fmt.Sprintf("end of replay (bad frames skipped: %d)", n)
			}
			sink.SetCameraStatus(status)
			<-ctx.Done()
			return nil
		}
	}
}

// play delivers one pass of frames, pacing them by tick, and returns how
// many it delivered. Unless wait is set, the pass's first frame goes out at
// once. It returns early, without error, when ctx is done.
func (s *Source) play(ctx context.Context, p pass, sink kiosk.FrameSink, status *kiosk.CameraStatus,
	format func(w, h int) string, tick <-chan time.Time, wait bool) (int, error) {
	good := 0
	for {
		if ctx.Err() != nil {
			return good, nil
		}
		b, err := p.next()
		switch {
		case errors.Is(err, io.EOF):
			return good, nil
		case errors.Is(err, ErrBadFrame):
			s.skipped.Add(1)
			continue
		case err != nil:
			return good, fmt.Errorf("replay: cannot read %s: %w", s.path, pathless(err))
		}
		out, w, h, err := camera.NormalizeJPEG(b)
		if err != nil {
			s.skipped.Add(1)
			continue
		}
		if wait {
			// Wait for this frame's turn.
			select {
			case <-ctx.Done():
				return good, nil
			case <-tick:
			}
		}
		sink.PutFrame(kiosk.Frame{Time: time.Now(), JPEG: out, Width: w, Height: h, Rotation: s.Rotation})
		good, wait = good+1, true
		s.played.Add(1)
		if f := format(w, h); status.Format != f || status.State != kiosk.CameraStreaming {
			status.State, status.Format, status.Reason, status.Since = kiosk.CameraStreaming, f, "", time.Now()
			sink.SetCameraStatus(*status)
		}
	}
}

// pass reads the frames once through, in order.
type pass interface {
	// next returns the next frame's bytes, an error wrapping ErrBadFrame
	// for one that must be skipped, or io.EOF at the end.
	next() ([]byte, error)
	close()
}

func (s *Source) pass(maxFrame int) (pass, error) {
	if s.files != nil {
		return &folderPass{files: s.files, max: maxFrame}, nil
	}
	f, err := os.Open(s.path)
	if err != nil {
		return nil, fmt.Errorf("replay: cannot open %s: %w", s.path, pathless(err))
	}
	return &streamPass{f: f, sp: NewSplitter(f, maxFrame)}, nil
}

type streamPass struct {
	f  *os.File
	sp *Splitter
}

func (p *streamPass) next() ([]byte, error) { return p.sp.Next() }
func (p *streamPass) close()                { p.f.Close() }

type folderPass struct {
	files []string
	i     int
	max   int
}

func (p *folderPass) next() ([]byte, error) {
	if p.i >= len(p.files) {
		return nil, io.EOF
	}
	name := p.files[p.i]
	p.i++
	b, err := readLimited(name, p.max)
	if err != nil {
		// A file that went away or cannot be read is one bad frame: the
		// others may still play.
		return nil, fmt.Errorf("%w: %s: %w", ErrBadFrame, filepath.Base(name), pathless(err))
	}
	return b, nil
}

// readLimited reads the file name if it holds at most max bytes.
func readLimited(name string, max int) ([]byte, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return nil, err
	}
	if fi.Size() > int64(max) {
		return nil, fmt.Errorf("larger than %d bytes", max)
	}
	return os.ReadFile(name)
}

func (p *folderPass) close() {}
