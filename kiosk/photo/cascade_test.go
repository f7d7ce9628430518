package photo_test

import (
	"crypto/sha256"
	"encoding/hex"
	"image"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"kioskd/kiosk/photo"
)

// TestCascadeHashes pins the embedded pigo cascades: pigo does not
// validate them and panics on damaged data (esimov/pigo#11). The hashes are
// those of github.com/esimov/pigo v1.4.6.
func TestCascadeHashes(t *testing.T) {
	want := map[string]string{
		"facefinder": "d8014993e7298c7b1865d1f8b855d6dbf4ec5c808bf879e2091ab6837abf90cd",
		"puploc":     "aa01adf34e5af6ed333be75e934275fc39fba2b63790cb340353b2d459c96ccc",
		"lp81":       "5085fa475d1bfa2e16e2597d1e0b0a9bdd5c733d5053e303599abda0bc166df6",
		"lp82":       "61ba39229d9c15bed02277ee804abb3363f97048a0b428158fb87803dec4d8f8",
		"lp84":       "2389ac114b9e18a2f6036fe9728be47baca012d42993167b8146a7cfe96b334f",
		"lp93":       "7e7ad437cb7488a3c37f2cbcadb0a5ee9ee4561fd17085de5eb5ec62b66480bd",
	}
	for name, sum := range want {
		b, err := os.ReadFile(filepath.Join("cascade", name))
		if err != nil {
			t.Errorf("read cascade %s: %v", name, err)
			continue
		}
		got := sha256.Sum256(b)
		if hex.EncodeToString(got[:]) != sum {
			t.Errorf("SHA-256(cascade/%s) = %x; want %s", name, got, sum)
		}
	}
	for _, f := range []string{"LICENSE", "NOTICE"} {
		if _, err := os.Stat(filepath.Join("cascade", f)); err != nil {
			t.Errorf("cascade/%s: %v", f, err)
		}
	}
}

// TestRunCascadeSameAsPigo: the detector's scales shared among CPUs give
// pigo's own detections, in its order, on frames with a face and without
// one, at camera sizes and a small one, with one CPU and with four.
func TestRunCascadeSameAsPigo(t *testing.T) {
	a := newAnalyzer(t)
	blank := image.NewNRGBA(image.Rect(0, 0, 640, 480))
	for i := range blank.Pix {
		blank.Pix[i] = 200
	}
	frames := map[string]*image.NRGBA{
		"720p":    sceneAt(t, 1280, 720, 3),
		"1080p":   sceneAt(t, 1920, 1080, 3),
		"900x640": sceneAt(t, 900, 640, 0),
		"blank":   blank,
	}
	for name, img := range frames {
		w, h := img.Rect.Dx(), img.Rect.Dy()
		gray := make([]uint8, w*h)
		for i := range gray {
			p := img.Pix[4*i : 4*i+3]
			gray[i] = uint8((299*int(p[0]) + 587*int(p[1]) + 114*int(p[2]) + 500) / 1000)
		}
		for _, procs := range []int{1, 4} {
			old := runtime.GOMAXPROCS(procs)
			want, got := photo.RunCascadeBoth(a, gray, w, h)
			runtime.GOMAXPROCS(old)
			if name != "blank" && len(want) == 0 {
				t.Fatalf("%s: pigo found nothing; the test needs detections", name)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s, %d CPUs: %d detections, pigo %d, or in another order", name, procs, len(got), len(want))
			}
		}
	}
}
