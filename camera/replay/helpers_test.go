package replay_test

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"strconv"
	"sync"
	"testing"

	"kioskd/kiosk"
)

// makeJPEG encodes a w x h picture: a gradient with a tint chosen by seed,
// so that frames of the same size still differ.
func makeJPEG(t testing.TB, w, h int, seed uint8) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), seed, 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 75}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// filterSegments walks the marker segments of a JPEG up to its first scan and
// calls keep for each; segments for which keep returns false are left out.
func filterSegments(t testing.TB, b []byte, keep func(marker byte) bool) []byte {
	t.Helper()
	out := append([]byte(nil), b[:2]...)
	i := 2
	for i+4 <= len(b) {
		m := b[i+1]
		n := int(b[i+2])<<8 | int(b[i+3])
		if m == 0xda { // SOS: the rest is the scan
			return append(out, b[i:]...)
		}
		if keep(m) {
			out = append(out, b[i:i+2+n]...)
		}
		i += 2 + n
	}
	t.Fatal("no scan in JPEG")
	return nil
}

// withoutDHT removes the Huffman tables, as some UVC cameras send frames.
func withoutDHT(t testing.TB, b []byte) []byte {
	return filterSegments(t, b, func(m byte) bool { return m != 0xc4 })
}

// withThumbnail puts an Exif-like APP1 segment holding a whole JPEG (with
// its own SOI and EOI) right after b's SOI.
func withThumbnail(b, thumb []byte) []byte {
	payload := append([]byte("Exif\x00\x00"), thumb...)
	n := len(payload) + 2
	out := append([]byte{0xff, 0xd8, 0xff, 0xe1, byte(n >> 8), byte(n)}, payload...)
	return append(out, b[2:]...)
}

// multipart wraps frames in a multipart/x-mixed-replace body.
func multipart(frames ...[]byte) []byte {
	var buf bytes.Buffer
	for _, f := range frames {
		buf.WriteString("--kioskdframe\r\nContent-Type: image/jpeg\r\n")
		buf.WriteString("Content-Length: " + strconv.Itoa(len(f)) + "\r\n\r\n")
		buf.Write(f)
		buf.WriteString("\r\n")
	}
	buf.WriteString("--kioskdframe--\r\n")
	return buf.Bytes()
}

func concat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// recorder is a kiosk.FrameSink that keeps what it gets.
type recorder struct {
	mu     sync.Mutex
	frames []kiosk.Frame
	states []kiosk.CameraStatus
}

func (r *recorder) PutFrame(f kiosk.Frame) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frames = append(r.frames, f)
}

func (r *recorder) SetCameraStatus(s kiosk.CameraStatus) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.states = append(r.states, s)
}
