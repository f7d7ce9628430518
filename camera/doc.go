// Package camera is the station's V4L2 camera: a kiosk.FrameSource over
// github.com/blackjack/webcam, and the tools around it (Probe for start-up,
// ListDevices for `kioskd devices`, NormalizeJPEG for every source of
// camera-made JPEG).
//
// # Capture
//
// Device.Run owns the camera: one goroutine opens it, picks a mode (MJPEG at
// the largest size within MaxWidth x MaxHeight that reaches MinFPS; YUYV by
// the same rule when the camera has no such MJPEG mode), asks for a few
// driver buffers, starts streaming and then loops:
//
//	WaitForFrame(1 s) → GetFrame until EAGAIN, releasing all but the newest
//	→ one copy of the newest out of driver memory → ReleaseFrame
//	→ check and normalize → sink.PutFrame
//
// MJPEG frames are checked (SOI, frame header, scan, EOI), padding after EOI
// is dropped and the standard Huffman tables are inserted when the camera
// left them out; the size comes from the frame header, never from the
// driver. YUYV frames are encoded as JPEG so that every frame keeps the
// kiosk.Frame contract. Frames that fail the check are counted and skipped,
// never delivered. Frames are never rotated: Device.Rotation travels in
// kiosk.Frame.Rotation.
//
// # States
//
// The camera moves through the kiosk.CameraState values and Run reports each
// change to the sink:
//
//	starting ──first frame──► streaming ──unplug, I/O error, no frame for StallTimeout──► reconnecting
//	    │                         ▲                                                         │
//	    └──EBUSY──► busy ─────────┴─────────────── reopen with backoff ◄────────────────────┘
//
// A lost camera (ENODEV, ENXIO, EIO, EBADF, a missing path) is closed and
// reopened with a backoff from 250 ms to 5 s that every wait abandons when
// the context ends; after an unplug the driver wakes the loop at once, so
// without it the loop would spin. Run returns nil when its context ends,
// and an error only for a configuration that can never work (see
// Device.Run). Failures are logged when they start, at most once a minute
// while they repeat, and once when the camera recovers.
//
// # Controls
//
// Device.Controls and Device.SetControl reach the camera through the
// capture goroutine (the library has no locks), which answers between
// frames, so within about a second. Configured controls and those set
// through SetControl are applied again whenever the camera is reopened,
// automatic modes first.
package camera
