package demo

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"image/jpeg"
	"math"
	"sync"
	"time"

	"kioskd/kiosk"
)

// The frames the scene produces.
const (
	Width   = 1280 // frame width in pixels
	Height  = 720  // frame height in pixels
	Quality = 80   // JPEG quality of the frames
)

// Frame rates.
const (
	DefaultFPS = 15
	MinFPS     = 15
	MaxFPS     = 30
)

// noiseVariants is how many noise patterns a held pose cycles through: its
// frames share these few encodings.
const noiseVariants = 4

//go:embed assets/pigo-sample.jpg
var portraitJPEG []byte

var _ kiosk.FrameSource = (*Scene)(nil)

// Scene is the demo camera: it plays the scripted scene as a stream of
// 1280x720 JPEG frames. Create it with NewScene.
type Scene struct {
	// FPS is the frame rate, MinFPS to MaxFPS; DefaultFPS if 0. Set it
	// before the first call of any method: the first call fixes it.
	FPS float64

	setupOnce sync.Once
	setupErr  error
	fps       float64
	period    time.Duration
	frames    []int   // loop frame → index in entries
	entries   []entry // the distinct frames

	mu       sync.Mutex // serialises rendering: r's canvas is shared
	r        *renderer  // nil once every distinct frame is rendered
	rendered int        // distinct frames rendered so far
}

// entry is one distinct frame, rendered the first time it is needed.
type entry struct {
	once    sync.Once
	pose    pose
	variant int
	jpeg    []byte
	err     error
}

// NewScene returns the demo scene. It does no work: the first call of Run
// or Frame cuts the person out of the embedded portrait (a few tens of
// milliseconds), and each frame is rendered when it is first needed.
func NewScene() *Scene {
	return &Scene{FPS: DefaultFPS}
}

// setup fixes the frame rate, plans the loop's frames and prepares the
// renderer.
func (s *Scene) setup() error {
	s.setupOnce.Do(func() {
		fps := s.FPS
		if fps == 0 {
			fps = DefaultFPS
		}
		if !(fps >= MinFPS && fps <= MaxFPS) { // also catches NaN
			s.setupErr = fmt.Errorf("demo: FPS %g out of range %d-%d", fps, MinFPS, MaxFPS)
			return
		}
		img, err := jpeg.Decode(bytes.NewReader(portraitJPEG))
		if err != nil {
			s.setupErr = fmt.Errorf("demo: decode embedded portrait: %w", err)
			return
		}
		body, anchor := buildBody()
		s.r = newRenderer(buildHead(img), body, anchor)

		// A whole number of frames per loop; the period follows from it.
		n := int(math.Round(LoopLength.Seconds() * fps))
		s.fps = fps
		s.period = LoopLength / time.Duration(n)
		s.frames = make([]int, n)
		type key struct{ phase, frame, variant int }
		seen := make(map[key]int)
		for i := range n {
			t := s.frameTime(i)
			ph, _ := phaseAt(t)
			k := key{phase: ph, frame: i, variant: i % noiseVariants}
			if still(ph) {
				k.frame = -1 // every frame of a held pose looks the same
			}
			e, ok := seen[k]
			if !ok {
				e = len(s.entries)
				seen[k] = e
				s.entries = append(s.entries, entry{pose: poseAt(t), variant: k.variant})
			}
			s.frames[i] = e
		}
	})
	return s.setupErr
}

// frameTime is when loop frame i (0 <= i < len(s.frames)) shows.
func (s *Scene) frameTime(i int) time.Duration {
	return time.Duration(i) * LoopLength / time.Duration(len(s.frames))
}

// Frames returns how many frames one loop of the scene has at its frame
// rate, or 0 if the frame rate is invalid.
func (s *Scene) Frames() int {
	if s.setup() != nil {
		return 0
	}
	return len(s.frames)
}

// FrameTime returns when frame i of the stream shows, from the start of the
// loop it is in.
func (s *Scene) FrameTime(i int) time.Duration {
	if s.setup() != nil {
		return 0
	}
	return s.frameTime(s.index(i))
}

func (s *Scene) index(i int) int {
	n := len(s.frames)
	return ((i % n) + n) % n
}

// Frame returns frame i of the stream (the loop's frame i modulo Frames),
// without Seq and Time. Its JPEG bytes are shared with every other caller
// and with later loops: nobody may modify them. The first call for a
// distinct frame renders it (about 30 ms); later calls cost nothing.
func (s *Scene) Frame(i int) (kiosk.Frame, error) {
	if err := s.setup(); err != nil {
		return kiosk.Frame{}, err
	}
	e := &s.entries[s.frames[s.index(i)]]
	e.once.Do(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		e.jpeg, e.err = s.r.render(e.pose, e.variant)
		if s.rendered++; s.rendered == len(s.entries) && e.err == nil {
			// The whole loop is cached: the canvas and the sprites
			// (about 5 MB) are no longer needed.
			s.r = nil
		}
	})
	if e.err != nil {
		return kiosk.Frame{}, fmt.Errorf("demo: render frame %d: %w", s.index(i), e.err)
	}
	return kiosk.Frame{JPEG: e.jpeg, Width: Width, Height: Height}, nil
}

// Truth returns where the student's face is at time t of the loop (t is
// taken modulo LoopLength). The frame shown at t is the one with the
// greatest FrameTime not after t.
func (s *Scene) Truth(t time.Duration) Truth {
	i, _ := phaseAt(t)
	return truthOf(i, poseAt(t))
}

// Format describes the stream for kiosk.CameraStatus, e.g.
// "MJPEG 1280x720 15fps (demo)".
func (s *Scene) Format() string {
	fps := s.FPS
	if s.setup() == nil {
		fps = s.fps
	}
	return fmt.Sprintf("MJPEG %dx%d %gfps (demo)", Width, Height, fps)
}

// Run plays the scene to sink in a loop, one frame every 1/FPS seconds,
// until ctx is done; then it reports the camera stopped and returns nil. It
// fails only for an invalid FPS. The first frame goes out at once; frames
// are rendered as the first loop plays.
func (s *Scene) Run(ctx context.Context, sink kiosk.FrameSink) error {
	if err := s.setup(); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return nil
	}
	status := kiosk.CameraStatus{State: kiosk.CameraStreaming, Source: kiosk.SourceDemo, Format: s.Format(), Since: time.Now()}
	sink.SetCameraStatus(status)
	tick := time.NewTicker(s.period)
	defer tick.Stop()
	for i := 0; ; i = (i + 1) % len(s.frames) {
		f, err := s.Frame(i)
		if err != nil {
			return err
		}
		f.Time = time.Now()
		sink.PutFrame(f)
		select {
		case <-ctx.Done():
			status.State, status.Reason, status.Since = kiosk.CameraStopped, "demo stopped", time.Now()
			sink.SetCameraStatus(status)
			return nil
		case <-tick.C:
		}
	}
}
