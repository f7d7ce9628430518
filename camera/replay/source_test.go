package replay_test

import (
	"bytes"
	"context"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"kioskd/camera/replay"
	"kioskd/kiosk"
)

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	others := filepath.Join(dir, "others")
	for _, d := range []string{empty, others, filepath.Join(others, "sub.jpg")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(others, "a.png"), []byte("not this"))
	writeFile(t, filepath.Join(others, "notes.txt"), []byte("nor this"))
	writeFile(t, filepath.Join(others, ".hidden.jpg"), makeJPEG(t, 8, 8, 0))
	text := filepath.Join(dir, "text.mjpeg")
	writeFile(t, text, []byte("no pictures in here\n"))
	zero := filepath.Join(dir, "zero.mjpeg")
	writeFile(t, zero, nil)
	cut := filepath.Join(dir, "cut.mjpeg")
	a := makeJPEG(t, 32, 32, 0)
	writeFile(t, cut, a[:len(a)-50])

	tests := []struct {
		name, path string
		want       []string // in the error message
	}{
		{"missing", filepath.Join(dir, "nothing"), []string{"nothing", "want a folder of JPEG files or an MJPEG file", "no such file"}},
		{"empty folder", empty, []string{empty, "no .jpg or .jpeg file"}},
		{"folder without JPEG files", others, []string{others, "no .jpg or .jpeg file"}},
		{"text file", text, []string{text, "no JPEG image"}},
		{"empty file", zero, []string{zero, "no JPEG image"}},
		{"cut-short JPEG", cut, []string{cut, "no JPEG image"}},
		{"device", os.DevNull, []string{os.DevNull, "neither a folder nor a regular file"}},
	}
	for _, tt := range tests {
		src, err := replay.Open(tt.path)
		if err == nil {
			t.Errorf("Open(%s) = %v, nil; want an error", tt.name, src)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Open(%s) error %q does not say %q", tt.name, err, w)
			}
		}
	}
}

// run plays src for d of fake time and returns what the sink got.
func run(t *testing.T, src *replay.Source, d time.Duration) (*recorder, time.Time) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	var rec recorder
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- src.Run(ctx, &rec) }()
	time.Sleep(d)
	synctest.Wait()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v; want nil after cancel", err)
	}
	return &rec, start
}

func TestFolderPlaysInNameOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		// Name order is byte order: 10 < 2 < a < b < c < e. Each frame's
		// width tells which file it came from.
		files := []struct {
			name  string
			data  []byte
			width int // 0: not played
		}{
			{"b.jpeg", makeJPEG(t, 40, 8, 0), 40},
			{"2.jpg", makeJPEG(t, 24, 8, 0), 24},
			{"10.jpg", makeJPEG(t, 16, 8, 0), 16},
			{"a.JPG", makeJPEG(t, 32, 8, 0), 32},
			{"c.jpg", []byte("this is not a JPEG"), 0},
			{"d.txt", makeJPEG(t, 8, 8, 0), 0},
			{"e.jpg", withoutDHT(t, makeJPEG(t, 48, 8, 0)), 48},
		}
		for _, f := range files {
			writeFile(t, filepath.Join(dir, f.name), f.data)
		}
		src, err := replay.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		src.FPS, src.Loop, src.Rotation = 10, false, 90

		rec, start := run(t, src, 2*time.Second)

		want := []int{16, 24, 32, 40, 48}
		if len(rec.frames) != len(want) {
			t.Fatalf("%d frames; want %d", len(rec.frames), len(want))
		}
		for i, f := range rec.frames {
			if f.Width != want[i] || f.Height != 8 || f.Rotation != 90 {
				t.Errorf("frame %d: %dx%d rotation %d; want %dx8 rotation 90", i, f.Width, f.Height, f.Rotation, want[i])
			}
			if at := f.Time.Sub(start); at != time.Duration(i)*100*time.Millisecond {
				t.Errorf("frame %d at %v; want %v", i, at, time.Duration(i)*100*time.Millisecond)
			}
			// Every frame decodes, the one without Huffman tables too.
			if _, err := jpeg.Decode(bytes.NewReader(f.JPEG)); err != nil {
				t.Errorf("frame %d does not decode: %v", i, err)
			}
		}
		if src.Played() != 5 || src.Skipped() != 1 {
			t.Errorf("Played, Skipped = %d, %d; want 5, 1", src.Played(), src.Skipped())
		}
		first, last := rec.states[0], rec.states[len(rec.states)-1]
		wantFirst := kiosk.CameraStatus{State: kiosk.CameraStreaming, Source: kiosk.SourceReplay, Device: dir, Format: "JPEG files 16x8 10fps (replay)", Since: start}
		if first != wantFirst {
			t.Errorf("first state %+v; want %+v", first, wantFirst)
		}
		if last.State != kiosk.CameraStopped || last.Reason != "end of replay (bad frames skipped: 1)" || last.Source != kiosk.SourceReplay {
			t.Errorf("last state %+v; want stopped at the end of the replay", last)
		}
		if got := rec.states[len(rec.states)-2].Format; got != "JPEG files 48x8 10fps (replay)" {
			t.Errorf("state before the end has format %q; want the last frame's size", got)
		}
	})
}

func TestMJPEGFileLoops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b, c := makeJPEG(t, 16, 8, 0), makeJPEG(t, 24, 8, 0), makeJPEG(t, 32, 8, 0)
		path := filepath.Join(t.TempDir(), "booth.mjpeg")
		// A multipart body with a frame cut short by the next part.
		writeFile(t, path, multipart(a, b[:len(b)-30], b, c))
		src, err := replay.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		src.FPS = 5

		rec, start := run(t, src, 2*time.Second)

		if len(rec.frames) != 11 {
			t.Fatalf("%d frames in 2 s at 5 fps; want 11", len(rec.frames))
		}
		for i, f := range rec.frames {
			if want := []int{16, 24, 32}[i%3]; f.Width != want {
				t.Errorf("frame %d is %d wide; want %d", i, f.Width, want)
			}
			if at := f.Time.Sub(start); at != time.Duration(i)*200*time.Millisecond {
				t.Errorf("frame %d at %v; want %v", i, at, time.Duration(i)*200*time.Millisecond)
			}
		}
		// Each frame is the source's own copy: the sink keeps it.
		if &rec.frames[0].JPEG[0] == &rec.frames[3].JPEG[0] {
			t.Error("two deliveries of the same frame share memory")
		}
		if !bytes.Equal(rec.frames[0].JPEG, a) || !bytes.Equal(rec.frames[3].JPEG, a) {
			t.Error("frames 0 and 3 are not the first image")
		}
		if src.Skipped() != 4 { // once per pass, four passes begun
			t.Errorf("Skipped = %d; want 4", src.Skipped())
		}
		last := rec.states[len(rec.states)-1]
		if last.State != kiosk.CameraStopped || last.Device != path {
			t.Errorf("last state %+v; want stopped", last)
		}
		if rec.states[0].Format != "MJPEG 16x8 5fps (replay)" {
			t.Errorf("first format %q", rec.states[0].Format)
		}
	})
}

func TestRunFails(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	if err := os.Mkdir(bad, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(bad, "1.jpg"), []byte("garbage"))
	writeFile(t, filepath.Join(bad, "2.jpg"), makeJPEG(t, 8, 8, 0)[:60])
	gone := filepath.Join(dir, "gone.mjpeg")
	writeFile(t, gone, makeJPEG(t, 8, 8, 0))
	good := filepath.Join(dir, "good.mjpeg")
	writeFile(t, good, makeJPEG(t, 8, 8, 0))

	tests := []struct {
		name string
		path string
		set  func(*replay.Source)
		want string
	}{
		{"no usable frame", bad, nil, "no usable JPEG image"},
		{"file removed", gone, func(*replay.Source) { os.Remove(gone) }, "cannot open"},
		{"negative FPS", good, func(s *replay.Source) { s.FPS = -1 }, "FPS"},
		{"FPS too high", good, func(s *replay.Source) { s.FPS = 500 }, "FPS"},
		{"FPS NaN", good, func(s *replay.Source) { s.FPS = math.NaN() }, "FPS"},
		{"rotation", good, func(s *replay.Source) { s.Rotation = 45 }, "Rotation"},
	}
	for _, tt := range tests {
		synctest.Test(t, func(t *testing.T) {
			src, err := replay.Open(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if tt.set != nil {
				tt.set(src)
			}
			var rec recorder
			err = src.Run(t.Context(), &rec)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: Run = %v; want an error saying %q", tt.name, err, tt.want)
			}
			if tt.name == "no usable frame" && !strings.Contains(err.Error(), tt.path) {
				t.Errorf("%s: error %q does not name the folder", tt.name, err)
			}
		})
	}
}

// Run returns at once, without frames, when its context is already done.
func TestRunCancelled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "one.jpg")
	writeFile(t, path, makeJPEG(t, 8, 8, 0))
	src, err := replay.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var rec recorder
	if err := src.Run(ctx, &rec); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if len(rec.frames) != 0 {
		t.Errorf("%d frames after cancel", len(rec.frames))
	}
}
