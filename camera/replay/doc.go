// Package replay is the replay camera: it plays recorded frames to the
// station as if a camera sent them, for demonstrations, tests and
// reproducing what a booth saw.
//
// Open takes either a folder, whose .jpg and .jpeg files play in the order
// of their names, or a file of JPEG images one after the other: an MJPEG
// recording (ffmpeg -f mjpeg, or a camera's frames appended to a file), a
// multipart/x-mixed-replace body as an IP camera serves it, or a single
// JPEG, which then plays as a still. Frames play at Source.FPS (15 by
// default), looping unless Loop is turned off, with the camera state
// reported as kiosk.SourceReplay.
//
// Every frame goes through camera.NormalizeJPEG, like the V4L2 camera's:
// frames without Huffman tables get the standard ones, and frames that are
// not complete JPEG images are skipped and counted (Source.Skipped).
//
// A Splitter cuts a stream into frames by following its marker segments
// (ISO 10918-1 Annex B), so bytes between frames are skipped, a thumbnail
// inside an Exif segment does not end a frame, and a frame cut short by the
// next one is reported and skipped. It holds at most one frame of bounded
// size (16 MiB by default), whatever the input: a stream without an end
// marker is skipped, not buffered.
package replay
