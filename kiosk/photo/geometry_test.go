package photo_test

import (
	"encoding/json"
	"errors"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kioskd/kiosk/photo"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestGoodGeometry compares the good frame's geometry with the ground truth
// of the composition and with the golden JSON (with tolerances: the
// cascades place the pupils within about 1 px, and the golden file must
// survive small changes to the search).
func TestGoodGeometry(t *testing.T) {
	p, _ := fixtures(t)
	a := newAnalyzer(t)
	s := goodScene()
	an := analyse(t, a, s, photo.BackgroundReplace)
	g := an.Geometry
	tr := s.truth(p)
	near := func(name string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol {
			t.Errorf("%s = %.2f; want %.2f +/- %.1f", name, got, want, tol)
		}
	}
	near("left pupil x", g.Pupils[0].X, tr.eyeL.X, 3)
	near("left pupil y", g.Pupils[0].Y, tr.eyeL.Y, 3)
	near("right pupil x", g.Pupils[1].X, tr.eyeR.X, 3)
	near("right pupil y", g.Pupils[1].Y, tr.eyeR.Y, 3)
	near("IPD", g.IPD, tr.ipd, 0.05*tr.ipd)
	near("crown y", g.CrownY, tr.crownY, 4)
	near("roll", g.RollDeg, 0, 1.2)

	golden := filepath.Join("testdata", "good_geometry.golden.json")
	if *update {
		b, _ := json.MarshalIndent(g, "", "  ")
		if err := os.WriteFile(golden, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("read golden (run with -update to create it): %v", err)
	}
	var want photo.Geometry
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatalf("golden %s: %v", golden, err)
	}
	if g.Width != want.Width || g.Height != want.Height || g.Found != want.Found || g.EyesFound != want.EyesFound {
		t.Errorf("geometry header = %dx%d found=%v eyes=%v; golden %dx%d found=%v eyes=%v",
			g.Width, g.Height, g.Found, g.EyesFound, want.Width, want.Height, want.Found, want.EyesFound)
	}
	for _, c := range []struct {
		name      string
		got, want float64
		tol       float64
	}{
		{"eye_mid.x", g.EyeMid.X, want.EyeMid.X, 2}, {"eye_mid.y", g.EyeMid.Y, want.EyeMid.Y, 2},
		{"ipd", g.IPD, want.IPD, 3}, {"face_width", g.FaceWidth, want.FaceWidth, 7},
		{"crown_y", g.CrownY, want.CrownY, 3}, {"nose_tip.y", g.Landmarks.NoseTip.Y, want.Landmarks.NoseTip.Y, 3},
		{"upper_lip.y", g.Landmarks.UpperLip.Y, want.Landmarks.UpperLip.Y, 3},
		{"crop.x", g.Crop.X, want.Crop.X, 12}, {"crop.y", g.Crop.Y, want.Crop.Y, 12},
		{"crop.w", g.Crop.W, want.Crop.W, 20}, {"crop.scale", g.Crop.Scale, want.Crop.Scale, 0.03},
		{"output.crown_y", g.Output.CrownY, want.Output.CrownY, 6},
	} {
		if math.Abs(c.got-c.want) > c.tol {
			t.Errorf("%s = %.2f; golden %.2f +/- %.2f", c.name, c.got, c.want, c.tol)
		}
	}
}

// TestCropFollowsFace is a property test: moving the student by (dx, dy)
// moves the crop window by the same amount and keeps its scale.
func TestCropFollowsFace(t *testing.T) {
	a := newAnalyzer(t)
	base := analyse(t, a, goodScene(), photo.BackgroundReplace).Geometry.Crop
	rng := rand.New(rand.NewPCG(3, 4))
	n := 8
	if testing.Short() {
		n = 3
	}
	for i := 0; i < n; i++ {
		dx := math.Round(rng.Float64()*240 - 120)
		dy := math.Round(rng.Float64()*40 - 20)
		s := goodScene()
		s.EyeX += dx
		s.EyeY += dy
		s.Seed = uint64(10 + i)
		c := analyse(t, a, s, photo.BackgroundReplace).Geometry.Crop
		// 2 px of pupil jitter, plus the scale's effect on the corner
		if math.Abs(c.X-base.X-dx) > 4 || math.Abs(c.Y-base.Y-dy) > 6 {
			t.Errorf("face moved by (%v, %v): crop moved by (%.1f, %.1f)", dx, dy, c.X-base.X, c.Y-base.Y)
		}
		if math.Abs(c.Scale-base.Scale) > 0.03*base.Scale {
			t.Errorf("face moved by (%v, %v): crop scale %.4f; want %.4f", dx, dy, c.Scale, base.Scale)
		}
	}
}

// TestFramingHints: the framing check names the side and gives a
// direction the student can follow (their own left and right).
func TestFramingHints(t *testing.T) {
	a := newAnalyzer(t)
	tests := []struct {
		name    string
		edit    func(*scene)
		measure string
		zh, en  string
	}{
		{"face at image left", func(s *scene) { s.EyeX = 190 }, "left", "向左", "to your left"},
		{"face at image right", func(s *scene) { s.EyeX = 1090 }, "right", "向右", "to your right"},
		{"face too high", func(s *scene) { s.EyeY = 215 }, "top", "坐低", "sit a little lower"},
		{"face too low", func(s *scene) { s.EyeY = 370 }, "bottom", "坐高", "sit up taller"},
		{"too close", func(s *scene) { s.IPD = 128; s.EyeY = 330 }, "size", "向后", "move back"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := goodScene()
			tt.edit(&s)
			c, _ := analyse(t, a, s, photo.BackgroundReplace).Check(photo.CheckFraming)
			if c.Status != photo.StatusFail || c.Measure != tt.measure || c.Hint == nil {
				t.Fatalf("Check(framing) = %s measure %q hint %v; want fail %q", c.Status, c.Measure, c.Hint, tt.measure)
			}
			if !strings.Contains(c.Hint.Zh, tt.zh) || !strings.Contains(c.Hint.En, tt.en) {
				t.Errorf("hint = %q / %q; want it to contain %q / %q", c.Hint.Zh, c.Hint.En, tt.zh, tt.en)
			}
		})
	}
}

// TestRotation: a portrait-mounted camera's frame (turned a quarter
// counter-clockwise) analysed with Rotation 90 matches the upright frame.
func TestRotation(t *testing.T) {
	p, astro := fixtures(t)
	a := newAnalyzer(t)
	s := scene{W: 1080, H: 1920, Wall: goodScene().Wall, IPD: 180, EyeX: 540, EyeY: 800,
		Shirt: goodScene().Shirt, Noise: 2, Seed: 5}
	up := s.render(p, astro)
	upright, err := a.AnalyzeBytes(encodeJPEG(t, up, 85), photo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	turned, err := a.AnalyzeBytes(encodeJPEG(t, rotateCCW(up), 85), photo.Options{Rotation: 90})
	if err != nil {
		t.Fatal(err)
	}
	if !upright.Ready || !turned.Ready {
		t.Errorf("Ready upright=%v turned=%v; want both\nupright %s\nturned %s", upright.Ready, turned.Ready, summary(upright), summary(turned))
	}
	gu, gt := upright.Geometry, turned.Geometry
	if gt.Width != 1080 || gt.Height != 1920 {
		t.Errorf("turned frame analysed as %dx%d; want 1080x1920", gt.Width, gt.Height)
	}
	tr := s.truth(p)
	for i, want := range []photo.Point{tr.eyeL, tr.eyeR} {
		if math.Abs(gt.Pupils[i].X-want.X) > 4 || math.Abs(gt.Pupils[i].Y-want.Y) > 4 {
			t.Errorf("turned pupil %d = %v; want %v", i, gt.Pupils[i], want)
		}
	}
	if math.Abs(gu.Crop.X-gt.Crop.X) > 6 || math.Abs(gu.Crop.Y-gt.Crop.Y) > 6 {
		t.Errorf("crop upright %+v, turned %+v", gu.Crop, gt.Crop)
	}
	if _, err := a.AnalyzeBytes(encodeJPEG(t, up, 85), photo.Options{Rotation: 45}); err == nil {
		t.Error("Rotation 45: no error")
	}
}

func TestOptionsErrors(t *testing.T) {
	a := newAnalyzer(t)
	p, _ := fixtures(t)
	if _, err := a.Analyze(p.img, photo.Options{Background: "green"}); err == nil {
		t.Error("background \"green\": no error")
	}
	bad := photo.Specs[photo.DefaultSpecID]
	bad.EyeTarget = 10
	if _, err := a.Analyze(p.img, photo.Options{Spec: bad}); err == nil {
		t.Error("spec with eye target above the crown: no error")
	}
	if _, err := photo.LookupSpec("nope"); err == nil {
		t.Error("LookupSpec(nope): no error")
	}
	for _, id := range photo.SpecIDs() {
		s, err := photo.LookupSpec(id)
		if err != nil || s.Validate() != nil || s.ID != id {
			t.Errorf("LookupSpec(%s) = %v, %v; validate %v", id, s.ID, err, s.Validate())
		}
	}
	if _, err := a.AnalyzeBytes([]byte("GIF89a"), photo.Options{}); !errors.Is(err, photo.ErrFormat) {
		t.Errorf("GIF: err = %v; want ErrFormat", err)
	}
}

// TestFullLandmarks: the capture-time analysis adds the mouth outline
// below the lip line; the live one leaves it out.
func TestFullLandmarks(t *testing.T) {
	a := newAnalyzer(t)
	live := analyse(t, a, goodScene(), photo.BackgroundReplace).Geometry.Landmarks
	if live.MouthLeft != nil || live.LowerLip != nil {
		t.Errorf("live analysis located the mouth outline: %+v", live)
	}
	a.Full = true
	full := analyse(t, a, goodScene(), photo.BackgroundReplace).Geometry.Landmarks
	if full.MouthLeft == nil || full.MouthRight == nil || full.LowerLip == nil {
		t.Fatalf("Full analysis: mouth outline missing: %+v", full)
	}
	if !(full.MouthLeft.X < full.UpperLip.X && full.UpperLip.X < full.MouthRight.X && full.LowerLip.Y > full.UpperLip.Y) {
		t.Errorf("mouth outline out of order: left %v lip %v right %v lower %v", *full.MouthLeft, full.UpperLip, *full.MouthRight, *full.LowerLip)
	}
}
