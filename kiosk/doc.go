// Package kiosk is the domain of the photo station: the Station that runs the
// live loop, the frames it moves, the camera's state as the station sees it,
// and the event hub that tells the operator's screen what is happening.
//
// The live loop:
//
//	FrameSource ──PutFrame──► newest-wins slot ──NextFrame──► every reader
//	                                                  (preview clients, the analyser)
//
// A FrameSource (the V4L2 camera, the demo scene, a replay) hands the Station
// complete JPEG frames that it has already copied out of driver memory. The
// Station keeps only the newest one: PutFrame never blocks, and each reader
// asks for "the newest frame after the one I last had", so a slow reader skips
// frames instead of slowing the camera or anyone else.
//
// Changes of state (the camera reconnecting, the frame rate once a second) go
// through a Hub as Events. The Hub never waits for a subscriber: one that
// falls behind is dropped and must subscribe again.
//
// This package imports no camera, web or sync code, and no net/http; the
// adapters depend on it, never the other way round (a test enforces this).
package kiosk
