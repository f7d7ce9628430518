package photo_test

import (
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"kioskd/kiosk/photo"
)

// flatJPEG is a w x h JPEG of one colour.
func flatJPEG(tb testing.TB, w, h int, c color.NRGBA) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, 255
	}
	return encodeJPEG(tb, img, 85)
}

// claimSize patches a JPEG's frame header (SOF0/SOF2) to claim w x h.
func claimSize(b []byte, w, h int) []byte {
	b = append([]byte(nil), b...)
	for i := 2; i+9 < len(b); i++ {
		if b[i] == 0xFF && (b[i+1] == 0xC0 || b[i+1] == 0xC2) {
			binary.BigEndian.PutUint16(b[i+5:], uint16(h))
			binary.BigEndian.PutUint16(b[i+7:], uint16(w))
			return b
		}
	}
	return b
}

// checkResult holds the contract of StandardizeBytes whatever the input:
// a photo only without an error or with a *ProofError, a refusal with its
// code, hint and report and no photo, and never both.
func checkResult(res photo.Result, err error) error {
	var re *photo.RefusalError
	var pe *photo.ProofError
	switch {
	case err == nil:
		if len(res.JPEG) == 0 || !res.Report.OK || res.Report.Refusal != nil {
			return errors.New("success without a valid photo")
		}
	case errors.As(err, &re):
		if res.JPEG != nil || res.Report.Refusal == nil || re.Code == "" || re.Hint.Zh == "" || re.Hint.En == "" {
			return errors.New("refusal without its report and hint, or with a photo: " + err.Error())
		}
	case errors.As(err, &pe):
		if len(res.JPEG) == 0 || res.Report.OK || len(pe.Failed) == 0 {
			return errors.New("proof error without the file or a failed check: " + err.Error())
		}
	default:
		if res.JPEG != nil {
			return errors.New("photo returned with an error: " + err.Error())
		}
	}
	return nil
}

// TestStandardizeAbsurdFrames (issue 4): frames that decode but cannot be
// a photo, and a header that lies about its size, give a clear refusal or
// error: never a panic, never a photo, and no allocation beyond the
// pixel bound.
func TestStandardizeAbsurdFrames(t *testing.T) {
	p, astro := fixtures(t)
	scn := func(edit func(*scene)) []byte {
		s := goodScene()
		edit(&s)
		return encodeJPEG(t, s.render(p, astro), 85)
	}
	small := flatJPEG(t, 64, 48, color.NRGBA{128, 128, 128, 255})
	tests := []struct {
		name   string
		b      []byte
		reason error // a refusal's reason, or an error the chain holds
	}{
		{"all white", flatJPEG(t, 1280, 720, color.NRGBA{255, 255, 255, 255}), photo.ErrNoFace},
		{"all black", flatJPEG(t, 1280, 720, color.NRGBA{0, 0, 0, 255}), photo.ErrNoFace},
		{"tiny 8x8", flatJPEG(t, 8, 8, color.NRGBA{200, 180, 160, 255}), photo.ErrNoFace},
		{"one-row strip 4000x1", flatJPEG(t, 4000, 1, color.NRGBA{200, 180, 160, 255}), photo.ErrNoFace},
		{"face cut by the left edge", scn(func(s *scene) { s.EyeX = 30 }), nil},
		{"face touching the left edge", scn(func(s *scene) { s.EyeX = 100 }), nil},
		{"face cut by the bottom edge", scn(func(s *scene) { s.EyeY = 700 }), nil},
		{"face of 20 px", scn(func(s *scene) { s.IPD = 9 }), photo.ErrNoFace},
		{"header claims 30000x30000", claimSize(small, 30000, 30000), photo.ErrTooLarge},
		{"header claims 65535x1", claimSize(small, 65535, 1), nil},
		{"header claims 4800x5000, data for 64x48", claimSize(small, 4800, 5000), nil},
	}
	a := newAnalyzer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			res, err := a.StandardizeBytes(tt.b, photo.StandardizeOptions{})
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatalf("a photo (%d bytes) from an absurd frame", len(res.JPEG))
			}
			if e := checkResult(res, err); e != nil {
				t.Error(e)
			}
			if res.JPEG != nil {
				t.Errorf("%d bytes of photo with %v", len(res.JPEG), err)
			}
			if tt.reason != nil && !errors.Is(err, tt.reason) {
				t.Errorf("err = %v; want %v", err, tt.reason)
			}
			var re *photo.RefusalError
			if errors.As(err, &re) && !strings.HasPrefix(err.Error(), "standardize: ") {
				t.Errorf("refusal message %q does not say what refused", err)
			}
			// The pixel bound holds: 25 MP of RGBA is 100 MB; a lying header
			// must not get near it.
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 200<<20 {
				t.Errorf("allocated %d MB", grew>>20)
			}
			t.Logf("%v", err)
		})
	}
}

// standardizeSeeds are the seed corpus of FuzzStandardizeBytes: small
// pictures (the fuzz Analyzer bounds frames to 1 MP), a whole booth frame
// that standardizes, and broken or lying headers.
func standardizeSeeds(t testing.TB) map[string][]byte {
	p, astro := fixtures(t)
	good := goodScene()
	good.Noise = 0
	frame := good.render(p, astro)
	tiny := flatJPEG(t, 16, 12, color.NRGBA{236, 236, 232, 255})
	return map[string][]byte{
		"good_720p":     encodeJPEG(t, frame, 40),
		"eye_png_40x30": encodePNG(t, frame.SubImage(image.Rect(590, 270, 630, 300))),
		"flat_16x12":    tiny,
		"huge_header":   claimSize(tiny, 30000, 30000),
		"lying_header":  claimSize(tiny, 1000, 1000),
		"truncated":     encodeJPEG(t, frame, 40)[:3000],
		"not_a_picture": []byte("GIF89a not a frame"),
	}
}

// TestStandardizeFuzzSeeds keeps testdata/fuzz/FuzzStandardizeBytes equal
// to standardizeSeeds (-update-fuzz rewrites it) and checks the contract
// on each seed.
func TestStandardizeFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzStandardizeBytes")
	if *updateFuzz {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	a := fuzzAnalyzer(t)
	for name, b := range standardizeSeeds(t) {
		file := filepath.Join(dir, name)
		want := "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
		if *updateFuzz {
			if err := os.WriteFile(file, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(file)
		if err != nil || string(got) != want {
			t.Errorf("seed %s missing or stale (run with -update-fuzz): %v", name, err)
		}
		res, err := a.StandardizeBytes(b, photo.StandardizeOptions{})
		if e := checkResult(res, err); e != nil {
			t.Errorf("%s: %v", name, e)
		}
		if name == "good_720p" && err != nil {
			t.Errorf("%s: %v; want a photo", name, err)
		}
	}
}

func fuzzAnalyzer(tb testing.TB) *photo.Analyzer {
	a, err := photo.NewAnalyzer()
	if err != nil {
		tb.Fatal(err)
	}
	a.MaxPixels = 1 << 20
	return a
}

// FuzzStandardizeBytes: any bytes give a photo, a refusal or an error
// under checkResult's contract, never a panic; frames are bounded to
// 1 MP.
func FuzzStandardizeBytes(f *testing.F) {
	a := fuzzAnalyzer(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := a.StandardizeBytes(b, photo.StandardizeOptions{})
		if e := checkResult(res, err); e != nil {
			t.Fatal(e)
		}
	})
}
