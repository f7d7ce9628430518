package demo_test

import (
	"bytes"
	"flag"
	"fmt"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"kioskd/camera/demo"
)

var pngDir = flag.String("pngdir", "", "write PNGs of a frame of each phase into this folder, to look at them")

// TestWritePNG writes a PNG of the middle frame of each phase when -pngdir
// is given; it is a tool for looking at the scene, not a check.
func TestWritePNG(t *testing.T) {
	if *pngDir == "" {
		t.Skip("no -pngdir")
	}
	s := demo.NewScene()
	for _, p := range demo.Timeline() {
		i := int((p.Start + p.End) / 2 * demo.DefaultFPS / 1e9)
		f, err := s.Frame(i)
		if err != nil {
			t.Fatal(err)
		}
		img, err := jpeg.Decode(bytes.NewReader(f.JPEG))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		name := filepath.Join(*pngDir, fmt.Sprintf("%03d-%s.png", i, p.Name))
		if err := os.WriteFile(name, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d bytes JPEG, truth %+v", name, len(f.JPEG), s.Truth(s.FrameTime(i)))
	}
}
