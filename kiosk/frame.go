package kiosk

import (
	"context"
	"sync"
	"time"
)

// Frame is one picture from the camera, as the camera encoded it.
//
// A Frame is immutable once it is handed to PutFrame: JPEG is shared, without
// copying, by every reader (preview clients write the same bytes to their
// sockets), so nobody may modify it afterwards.
type Frame struct {
	// Seq numbers frames in arrival order, starting at 1. The Station sets it.
	Seq uint64
	// Time is when the frame arrived from the source.
	Time time.Time
	// JPEG is a complete baseline or progressive JPEG stream (SOI to EOI)
	// whose Huffman tables are present.
	JPEG []byte
	// Width and Height are the encoded picture's size, read from its JPEG
	// header (not what the driver claimed).
	Width, Height int
	// Rotation is how far, in degrees clockwise (0, 90, 180 or 270), the
	// picture must be turned to stand upright, for cameras mounted on their
	// side. The bytes are never rotated: turning is a lossless transpose that
	// each consumer applies when it draws or analyses the pixels.
	Rotation int
}

// FrameSource produces frames: the V4L2 camera, the demo scene, a replay.
type FrameSource interface {
	// Run delivers frames and camera states to sink until ctx is done, and
	// then returns nil. It returns an error only when the source cannot work
	// at all; a camera that goes away is a state, not an error.
	Run(ctx context.Context, sink FrameSink) error
}

// FrameSink receives what a FrameSource produces. Neither method blocks.
type FrameSink interface {
	// PutFrame takes ownership of f: the source must not touch f.JPEG again.
	PutFrame(f Frame)
	// SetCameraStatus reports a change of the camera's state.
	SetCameraStatus(s CameraStatus)
}

// CameraState is what the camera is doing, as the operator needs to know it.
type CameraState string

// The camera states. A source moves between them as the device comes and goes.
const (
	CameraStarting     CameraState = "starting"     // opening the device
	CameraStreaming    CameraState = "streaming"    // frames are arriving
	CameraReconnecting CameraState = "reconnecting" // lost (unplugged, I/O error, stalled); trying again
	CameraBusy         CameraState = "busy"         // another program holds the device; trying again
	CameraStopped      CameraState = "stopped"      // the source has ended
)

// The kinds of frame source, for CameraStatus.Source.
const (
	SourceV4L2   = "v4l2"
	SourceDemo   = "demo"
	SourceReplay = "replay"
)

// CameraStatus describes the camera as the station shows it.
type CameraStatus struct {
	State  CameraState `json:"state"`
	Source string      `json:"source"`           // SourceV4L2, SourceDemo or SourceReplay
	Device string      `json:"device,omitempty"` // device path, or the replayed file
	Format string      `json:"format,omitempty"` // e.g. "MJPEG 1920x1080 30fps"
	// Reason says in a few words why the camera is not streaming, for the
	// log and the operator; it never holds personal data.
	Reason string    `json:"reason,omitempty"`
	Since  time.Time `json:"since"`
}

// newest is a newest-wins slot: put replaces the frame and wakes every
// waiter; next returns the newest frame after a given sequence number.
// Readers that are slower than the camera simply skip frames.
type newest struct {
	mu      sync.Mutex
	f       Frame
	changed chan struct{} // closed and replaced on every put
}

func newNewest() *newest { return &newest{changed: make(chan struct{})} }

func (n *newest) put(f Frame) {
	n.mu.Lock()
	n.f = f
	close(n.changed)
	n.changed = make(chan struct{})
	n.mu.Unlock()
}

func (n *newest) get() Frame {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.f
}

func (n *newest) next(ctx context.Context, after uint64) (Frame, error) {
	for {
		n.mu.Lock()
		f, changed := n.f, n.changed
		n.mu.Unlock()
		if f.Seq > after {
			return f, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return Frame{}, ctx.Err()
		}
	}
}
