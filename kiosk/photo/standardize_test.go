package photo_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"strings"
	"testing"
	"time"

	"kioskd/kiosk/photo"
)

// scaled returns the good scene at another frame size, the head scaled
// with the frame's height.
func scaled(w, h int) scene {
	s := goodScene()
	k := float64(h) / 720
	s.W, s.H = w, h
	s.IPD, s.EyeX, s.EyeY = s.IPD*k, s.EyeX*k, s.EyeY*k
	return s
}

// jfifDensity reads the JFIF APP0 right after SOI by hand: units, x, y.
func jfifDensity(b []byte) (unit, x, y int, ok bool) {
	if len(b) < 20 || b[0] != 0xFF || b[1] != 0xD8 || b[2] != 0xFF || b[3] != 0xE0 || string(b[6:11]) != "JFIF\x00" {
		return 0, 0, 0, false
	}
	return int(b[13]), int(binary.BigEndian.Uint16(b[14:])), int(binary.BigEndian.Uint16(b[16:])), true
}

// patchMean is the mean sRGB colour of a k x k patch.
func patchMean(img image.Image, x0, y0, k int) [3]float64 {
	var s [3]float64
	for y := y0; y < y0+k; y++ {
		for x := x0; x < x0+k; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			s[0] += float64(c.R)
			s[1] += float64(c.G)
			s[2] += float64(c.B)
		}
	}
	n := float64(k * k)
	return [3]float64{s[0] / n, s[1] / n, s[2] / n}
}

// verifyPhoto checks every spec number on the file itself: decoded with
// image/jpeg, the header read by hand, the quantisation tables compared
// with a fresh encode, the face re-measured by a separate Analyzer, and
// the scene's ground truth mapped through the reported crop.
func verifyPhoto(t *testing.T, res photo.Result, spec photo.Spec, mode photo.Background, s scene, tr truth) {
	t.Helper()
	b := res.JPEG
	if kb := len(b); kb < spec.TargetMinKB*1024 || kb > spec.TargetMaxKB*1000 {
		t.Errorf("file is %d bytes; want %d..%d", kb, spec.TargetMinKB*1024, spec.TargetMaxKB*1000)
	}
	if unit, x, y, ok := jfifDensity(b); !ok || unit != 1 || x != spec.DPI || y != spec.DPI {
		t.Errorf("JFIF density = unit %d %dx%d (present %v); want %d dpi", unit, x, y, ok, spec.DPI)
	}
	if bytes.Contains(b, []byte("Exif")) {
		t.Error("file has EXIF")
	}
	if i := bytes.Index(b, []byte{0xFF, 0xC0}); i < 0 || b[i+9] != 3 {
		t.Error("not a baseline 3-component JPEG")
	}
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode the photo: %v", err)
	}
	if r := img.Bounds(); r.Dx() != spec.Width || r.Dy() != spec.Height {
		t.Fatalf("photo is %dx%d; want %dx%d", r.Dx(), r.Dy(), spec.Width, spec.Height)
	}
	// Quality: Go's encoder at the reported quality writes the same tables.
	if q := res.Report.Quality; q < spec.MinQuality || q > 95 || !bytes.Equal(dqt(t, b), dqt(t, encodeJPEG(t, img, q))) {
		t.Errorf("quantisation tables are not quality %d's (spec %d..95)", q, spec.MinQuality)
	}
	// The face, re-measured.
	an, err := newAnalyzer(t).Analyze(img, photo.Options{Spec: spec, Background: mode})
	if err != nil || an.Faces != 1 {
		t.Fatalf("re-analysis: %v, %d faces", err, an.Faces)
	}
	g := an.Geometry
	within := func(name string, v float64, lo, hi int) {
		t.Helper()
		if v < float64(lo) || v > float64(hi) {
			t.Errorf("%s = %.1f; want %d..%d", name, v, lo, hi)
		}
	}
	within("eye line", g.EyeMid.Y, spec.EyeMin, spec.EyeMax)
	within("crown", g.CrownY, spec.CrownMin, spec.CrownMax)
	within("face width", g.FaceWidth, spec.FaceWidthMin, spec.FaceWidthMax)
	within("IPD", g.IPD, spec.MinIPD, spec.Width)
	if c := float64(spec.Width) / 2; math.Abs(g.FaceCentreX-c) > photo.CentreTolerance(spec) {
		t.Errorf("face centre x = %.1f; want %.0f +/- %.0f", g.FaceCentreX, c, photo.CentreTolerance(spec))
	}
	if math.Abs(g.EyeMid.Y-float64(spec.EyeTarget)) > 4 {
		t.Errorf("eye line = %.1f; want the target %d +/- 4", g.EyeMid.Y, spec.EyeTarget)
	}
	// Ground truth: the composed eyes, mapped through the reported crop,
	// land on the eye target and the centre line.
	p := res.Report.Plan
	mid := photo.Point{X: (tr.eyeL.X + tr.eyeR.X) / 2, Y: (tr.eyeL.Y + tr.eyeR.Y) / 2}
	ty := (mid.Y - p.Crop.Y) * p.Scale
	tx := (mid.X - p.Crop.X) * p.Scale
	if math.Abs(ty-float64(spec.EyeTarget)) > 3 || math.Abs(tx-float64(spec.Width)/2) > 4 {
		t.Errorf("true eye midpoint lands at (%.1f, %.1f); want (%d, %d)", tx, ty, spec.Width/2, spec.EyeTarget)
	}
	if math.Abs(g.EyeMid.Y-ty) > 3 || math.Abs(g.EyeMid.X-tx) > 3 {
		t.Errorf("eyes measured at (%.1f, %.1f) in the photo; the crop puts them at (%.1f, %.1f)", g.EyeMid.X, g.EyeMid.Y, tx, ty)
	}
	// The report agrees with this test's own measurements.
	r := res.Report
	if r.Bytes != len(b) || r.Width != spec.Width || r.DPI != spec.DPI || math.Abs(r.EyeY-g.EyeMid.Y) > 3 || !r.OK {
		t.Errorf("report bytes %d dpi %d eye %.1f ok %v; file %d bytes, eye %.1f", r.Bytes, r.DPI, r.EyeY, r.OK, len(b), g.EyeMid.Y)
	}
	if r.Mode != mode {
		t.Errorf("report mode %q; want %q", r.Mode, mode)
	}
	// Background at the corners and edges.
	k := 16
	ref := spec.Background
	for _, pt := range [][2]int{{2, 2}, {spec.Width/2 - k/2, 2}, {spec.Width - k - 2, 2},
		{2, int(g.EyeMid.Y) - k/2}, {spec.Width - k - 2, int(g.EyeMid.Y) - k/2}} {
		m := patchMean(img, pt[0], pt[1], k)
		d := max(math.Abs(m[0]-float64(ref.R)), math.Abs(m[1]-float64(ref.G)), math.Abs(m[2]-float64(ref.B)))
		if mode == photo.BackgroundReplace && d > 2 {
			t.Errorf("background patch at %v = %.1f; want %v within 2 levels", pt, m, ref)
		}
		if mode == photo.BackgroundKeep && d > 25 {
			t.Errorf("keep: background patch at %v = %.1f; far from %v", pt, m, ref)
		}
	}
}

// TestStandardize: composed 720p and 1080p frames (and a portrait-mounted
// camera's raw frame) give photos that meet every spec number.
func TestStandardize(t *testing.T) {
	p, astro := fixtures(t)
	spec := photo.Specs[photo.DefaultSpecID]
	tests := []struct {
		name     string
		s        scene
		mode     photo.Background
		rotation int
		plate    bool
	}{
		{name: "720p replace", s: goodScene()},
		{name: "1080p replace", s: scaled(1920, 1080)},
		{name: "720p keep", s: func() scene { s := goodScene(); s.Wall = lightBlueWall; return s }(), mode: photo.BackgroundKeep},
		{name: "720p replace, face off-centre", s: func() scene { s := goodScene(); s.EyeX, s.EyeY = 420, 300; return s }()},
		{name: "portrait camera 1080x1920, rotation 90", s: scene{W: 1080, H: 1920, Wall: goodScene().Wall, IPD: 180, EyeX: 540, EyeY: 800,
			Shirt: goodScene().Shirt, Noise: 2, Seed: 5}, rotation: 90},
		{name: "720p replace with a clean plate", s: goodScene(), plate: true},
		// a strong reduction: the render averages 2x2 blocks before the
		// Lanczos pass
		{name: "12 MP still 4000x3000", s: scaled(4000, 3000)},
	}
	if testing.Short() {
		tests = tests[:3]
	}
	a := newAnalyzer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mode := tt.mode
			if mode == "" {
				mode = photo.BackgroundReplace
			}
			frame := tt.s.render(p, astro)
			opt := photo.StandardizeOptions{Background: mode, Rotation: tt.rotation}
			var raw image.Image = frame
			if tt.rotation == 90 {
				raw = rotateCCW(frame)
			}
			img, err := photo.Decode(encodeJPEG(t, raw, 85), 0)
			if err != nil {
				t.Fatal(err)
			}
			if tt.plate {
				empty := tt.s
				empty.NoFace, empty.Seed = true, 99
				opt.CleanPlate, _ = photo.Decode(encodeJPEG(t, empty.render(p, astro), 85), 0)
			}
			res, err := a.Standardize(img, opt)
			if err != nil {
				js, _ := json.MarshalIndent(res.Report.Checks, "", " ")
				t.Fatalf("Standardize: %v\n%s", err, js)
			}
			verifyPhoto(t, res, spec, mode, tt.s, tt.s.truth(p))
			if want := map[bool]string{true: photo.WBPlate, false: photo.WBWall}[tt.plate]; mode == photo.BackgroundReplace && res.Report.Colour.Source != want {
				t.Errorf("white balance from %q; want %q", res.Report.Colour.Source, want)
			}
			if (res.Matte != nil) != (mode == photo.BackgroundReplace) {
				t.Errorf("matte present = %v in %s mode", res.Matte != nil, mode)
			}
		})
	}
}

// TestStandardizeOtherSpec: the spec is data: the ID-card template gives
// its own size, density and white background.
func TestStandardizeOtherSpec(t *testing.T) {
	if testing.Short() {
		t.Skip("one more full standardization")
	}
	p, astro := fixtures(t)
	spec := photo.Specs["cn-passport"]
	s := scaled(1920, 1080)
	res, err := newAnalyzer(t).StandardizeBytes(encodeJPEG(t, s.render(p, astro), 85), photo.StandardizeOptions{Spec: spec})
	if err != nil {
		t.Fatalf("Standardize(%s): %v", spec.ID, err)
	}
	verifyPhoto(t, res, spec, photo.BackgroundReplace, s, s.truth(p))
}

// TestStandardizeRefusals: frames that cannot become the photo are refused
// with the reason and a physical fix, and no file is made.
func TestStandardizeRefusals(t *testing.T) {
	p, astro := fixtures(t)
	tests := []struct {
		name   string
		edit   func(*scene)
		mode   photo.Background
		reason error
		code   string
		hint   string // part of the English hint
	}{
		{"no face", func(s *scene) { s.NoFace = true }, "", photo.ErrNoFace, "no_face", "Face the camera"},
		{"two faces", func(s *scene) { s.Second = true }, "", photo.ErrManyFaces, "many_faces", "Only one person"},
		{"crop leaves the frame", func(s *scene) { s.EyeX = 190 }, "", photo.ErrOutsideFrame, "outside_frame", "to your left"},
		{"head too high", func(s *scene) { s.EyeY = 215 }, "", photo.ErrOutsideFrame, "outside_frame", "lower"},
		{"too close", func(s *scene) { s.IPD = 128; s.EyeY = 330 }, "", photo.ErrOutsideFrame, "outside_frame", "move back"},
		{"too far: upscaling", func(s *scene) { s.IPD = 84 }, "", photo.ErrUpscale, "upscale", "closer"},
		{"busy wall", func(s *scene) { s.Busy = true }, "", photo.ErrBackground, "background", "wall"},
		{"keep: wrong backdrop colour", func(*scene) {}, photo.BackgroundKeep, photo.ErrBackground, "background", "colour"},
	}
	a := newAnalyzer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := goodScene()
			tt.edit(&s)
			res, err := a.StandardizeBytes(encodeJPEG(t, s.render(p, astro), 85), photo.StandardizeOptions{Background: tt.mode})
			var re *photo.RefusalError
			if !errors.Is(err, tt.reason) || !errors.As(err, &re) {
				t.Fatalf("Standardize: err = %v; want %v", err, tt.reason)
			}
			if re.Code != tt.code || !strings.Contains(re.Hint.En, tt.hint) || re.Hint.Zh == "" {
				t.Errorf("refusal %q hint %+v; want %q with %q", re.Code, re.Hint, tt.code, tt.hint)
			}
			if res.JPEG != nil || res.Report.Refusal == nil || res.Report.Refusal.Code != tt.code || len(res.Report.InputChecks) == 0 {
				t.Errorf("result after refusal: %d bytes, refusal %+v, %d input checks", len(res.JPEG), res.Report.Refusal, len(res.Report.InputChecks))
			}
			js, err := json.Marshal(res.Report)
			if err != nil || !bytes.Contains(js, []byte(`"refusal":{"code":"`+tt.code)) {
				t.Errorf("report JSON %s (%v) lacks the refusal", js, err)
			}
		})
	}
}

// TestStandardizeKeepIsGlobal: in keep mode the backdrop is not touched
// locally: every background pixel of the photo is the frame's pixel under
// the one reported colour transform, gradient and all.
func TestStandardizeKeepIsGlobal(t *testing.T) {
	p, astro := fixtures(t)
	s := goodScene()
	s.Wall = lightBlueWall
	s.Noise = 0
	frame := s.render(p, astro)
	// A visible left-to-right gradient on the backdrop (10 % across).
	for y := 0; y < s.H; y++ {
		for x := 0; x < s.W; x++ {
			i := frame.PixOffset(x, y)
			if frame.Pix[i+2] > 200 { // backdrop, not the person
				f := 0.95 + 0.1*float64(x)/float64(s.W)
				for c := 0; c < 3; c++ {
					frame.Pix[i+c] = uint8(min(255, float64(frame.Pix[i+c])*f))
				}
			}
		}
	}
	res, err := newAnalyzer(t).Standardize(frame, photo.StandardizeOptions{Background: photo.BackgroundKeep})
	if err != nil {
		t.Fatalf("Standardize: %v", err)
	}
	img, err := jpeg.Decode(bytes.NewReader(res.JPEG))
	if err != nil {
		t.Fatal(err)
	}
	cc, pl := res.Report.Colour, res.Report.Plan
	predict := func(ox, oy int) [3]float64 {
		// frame pixel under the output pixel's centre, through the gains
		// and the tone curve
		fx := pl.Crop.X + (float64(ox)+0.5)/pl.Scale - 0.5
		fy := pl.Crop.Y + (float64(oy)+0.5)/pl.Scale - 0.5
		c := bilinear(frame, fx, fy)
		var out [3]float64
		for i := range c {
			out[i] = 255 * math.Pow(min(1, c[i]*cc.Gains[i]/255), cc.Gamma)
		}
		return out
	}
	var sum, n float64
	var left, right float64
	for oy := 4; oy < 200; oy += 3 {
		for _, ox := range []int{6, 12, 18, 461, 467, 473} {
			got := color.RGBAModel.Convert(img.At(ox, oy)).(color.RGBA)
			want := predict(ox, oy)
			sum += math.Abs(float64(got.R)-want[0]) + math.Abs(float64(got.G)-want[1]) + math.Abs(float64(got.B)-want[2])
			n += 3
			if ox < 240 {
				left += float64(got.G)
			} else {
				right += float64(got.G)
			}
		}
	}
	if e := sum / n; e > 2.5 {
		t.Errorf("background differs from the globally corrected frame by %.2f levels on average; want <= 2.5", e)
	}
	// The gradient survives: the right edge is still brighter.
	if right <= left*1.03 {
		t.Errorf("backdrop gradient flattened: left %.0f right %.0f", left, right)
	}
	if res.Matte != nil || res.Report.Mode != photo.BackgroundKeep || res.Report.Colour.Source != photo.WBBackdrop {
		t.Errorf("keep mode: matte %v, mode %q, white balance from %q", res.Matte != nil, res.Report.Mode, res.Report.Colour.Source)
	}
}

// TestStandardizeTone: an under-exposed face is brought into the exposure
// band by one global curve.
func TestStandardizeTone(t *testing.T) {
	p, astro := fixtures(t)
	s := goodScene()
	s.Gain = 0.62
	spec := photo.Specs[photo.DefaultSpecID]
	res, err := newAnalyzer(t).StandardizeBytes(encodeJPEG(t, s.render(p, astro), 85), photo.StandardizeOptions{})
	if err != nil {
		t.Fatalf("Standardize: %v", err)
	}
	cc := res.Report.Colour
	if cc.FaceLumaBefore >= spec.ExposureMin || cc.Gamma >= 1 {
		t.Errorf("face luma before %.3f, gamma %.3f; want a dark face and a brightening curve", cc.FaceLumaBefore, cc.Gamma)
	}
	if l := res.Report.FaceLuma; l < spec.ExposureMin || l > spec.ExposureMax {
		t.Errorf("face luma in the photo = %.3f; want %.2f..%.2f", l, spec.ExposureMin, spec.ExposureMax)
	}
}

func TestStandardizeOptionErrors(t *testing.T) {
	p, astro := fixtures(t)
	a := newAnalyzer(t)
	frame := goodScene().render(p, astro)
	for _, tt := range []struct {
		name string
		opt  photo.StandardizeOptions
	}{
		{"background mode", photo.StandardizeOptions{Background: "green"}},
		{"rotation", photo.StandardizeOptions{Rotation: 45}},
		{"plate size", photo.StandardizeOptions{CleanPlate: image.NewGray(image.Rect(0, 0, 10, 10))}},
	} {
		_, err := a.Standardize(frame, tt.opt)
		var re *photo.RefusalError
		if err == nil || errors.As(err, &re) {
			t.Errorf("%s: err = %v; want an option error", tt.name, err)
		}
	}
}

// benchStandardize makes one photo per iteration from a camera-like
// JPEG frame (benchFrame: 4:2:2, q85, sensor noise): with decoded, from
// the decoded picture (Standardize); otherwise from the bytes
// (StandardizeBytes, the capture flow's call: decode included). Every
// photo is the full job: analysis, plan, render, matte, colour, size
// search, and the proof (decode and re-analysis of the file).
func benchStandardize(b *testing.B, w, h int, decoded bool) {
	frame := benchFrame(b, w, h)
	img, err := photo.Decode(frame, 0)
	if err != nil {
		b.Fatal(err)
	}
	a := newAnalyzer(b)
	run := func() (photo.Result, error) {
		if decoded {
			return a.Standardize(img, photo.StandardizeOptions{})
		}
		return a.StandardizeBytes(frame, photo.StandardizeOptions{})
	}
	res, err := run()
	if err != nil || !res.Report.OK || len(res.Report.Tries) == 0 {
		b.Fatalf("benchmark frame: %v (ok %v)", err, res.Report.OK)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	tries := 0
	for b.Loop() {
		res, err := run()
		if err != nil {
			b.Fatal(err)
		}
		tries += len(res.Report.Tries)
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/photo")
	b.ReportMetric(float64(tries)/float64(b.N), "encodes/photo")
}

// BenchmarkStandardize1080p: one photo from a 1920x1080 camera JPEG,
// decode included (StandardizeBytes, what the capture flow calls).
// Target (issue 4): <= 120 ms median on the 2-core machine.
func BenchmarkStandardize1080p(b *testing.B) { benchStandardize(b, 1920, 1080, false) }

// BenchmarkStandardizeDecoded1080p is BenchmarkStandardize1080p without
// the decode of the frame.
func BenchmarkStandardizeDecoded1080p(b *testing.B) { benchStandardize(b, 1920, 1080, true) }

// BenchmarkStandardize12MP: one photo from a 4000x3000 still (the same
// scene, 12 MP), decode included (StandardizeBytes). Target (issue 4):
// <= 400 ms median.
func BenchmarkStandardize12MP(b *testing.B) { benchStandardize(b, 4000, 3000, false) }

// BenchmarkStandardizeDecoded12MP is BenchmarkStandardize12MP without the
// decode of the still.
func BenchmarkStandardizeDecoded12MP(b *testing.B) { benchStandardize(b, 4000, 3000, true) }
