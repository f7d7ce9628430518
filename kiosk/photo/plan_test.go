package photo_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"kioskd/kiosk/photo"
)

// geom is a face in a 1920x1080 frame: eye midpoint, face width, crown.
func geom(eyeX, eyeY, faceWidth, crownY float64) photo.Geometry {
	return photo.Geometry{
		Width: 1920, Height: 1080, Found: true,
		EyeMid: photo.Point{X: eyeX, Y: eyeY}, IPD: faceWidth / 2.2, FaceWidth: faceWidth,
		FaceCentreX: eyeX, CrownY: crownY,
	}
}

// TestPlanCrop: the plan's priorities (eye line, crown, face width), the
// centring, and the refusals with the side to move to.
func TestPlanCrop(t *testing.T) {
	spec := photo.Specs[photo.DefaultSpecID]
	tests := []struct {
		name          string
		g             photo.Geometry
		reason        error
		hintZh        string
		eye, crown    float64 // want in the output (0: not checked)
		width, centre float64
	}{
		{name: "face width decides", g: geom(960, 450, 250, 263), eye: 250, crown: 85.44, width: 220, centre: 240},
		// The crown would land at 30: the scale shrinks until it is at 63
		// (the band's edge plus the margin); the face width gives way.
		{name: "crown too high", g: geom(960, 450, 250, 200), eye: 250, crown: 63, width: 187, centre: 240},
		{name: "crown too low", g: geom(960, 450, 320, 250), eye: 250, crown: 97, width: 244.8, centre: 240},
		{name: "shift within 4 px", g: geom(270, 450, 250, 263), eye: 250, width: 220, centre: 237.6},
		{name: "too far left", g: geom(200, 450, 250, 263), reason: photo.ErrOutsideFrame, hintZh: "向左"},
		{name: "too far right", g: geom(1750, 450, 250, 263), reason: photo.ErrOutsideFrame, hintZh: "向右"},
		{name: "too high", g: geom(960, 200, 250, 13), reason: photo.ErrOutsideFrame, hintZh: "坐低"},
		{name: "too low", g: geom(960, 900, 250, 713), reason: photo.ErrOutsideFrame, hintZh: "坐高"},
		{name: "too close", g: geom(960, 540, 600, 90), reason: photo.ErrOutsideFrame, hintZh: "向后"},
		{name: "too far", g: geom(960, 450, 150, 330), reason: photo.ErrUpscale, hintZh: "靠近"},
		{name: "crown cut", g: func() photo.Geometry { g := geom(960, 200, 250, 0); g.CrownCut = true; return g }(),
			reason: photo.ErrOutsideFrame, hintZh: "头顶"},
		{name: "no face", g: photo.Geometry{Width: 1280, Height: 720}, reason: photo.ErrNoFace, hintZh: "正对镜头"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := photo.PlanCrop(tt.g, spec)
			if tt.reason != nil {
				var re *photo.RefusalError
				if !errors.Is(err, tt.reason) || !errors.As(err, &re) {
					t.Fatalf("PlanCrop = %+v, %v; want %v", p, err, tt.reason)
				}
				if !strings.Contains(re.Hint.Zh, tt.hintZh) || re.Hint.En == "" || re.Code == "" {
					t.Errorf("refusal %q hint %+v; want zh containing %q and an English hint", re.Code, re.Hint, tt.hintZh)
				}
				return
			}
			if err != nil {
				t.Fatalf("PlanCrop: %v", err)
			}
			// Recompute the output positions from the window itself.
			s := p.Scale
			if math.Abs(p.Crop.W*s-480) > 1e-6 || math.Abs(p.Crop.H*s-640) > 1e-6 {
				t.Errorf("window %vx%v at scale %v is not 480x640", p.Crop.W, p.Crop.H, s)
			}
			if s > 1 || p.Crop.X < 0 || p.Crop.Y < 0 || p.Crop.X+p.Crop.W > 1920 || p.Crop.Y+p.Crop.H > 1080 {
				t.Errorf("window %+v scale %v leaves the frame or upscales", p.Crop, s)
			}
			eye := (tt.g.EyeMid.Y - p.Crop.Y) * s
			crown := (tt.g.CrownY - p.Crop.Y) * s
			centre := (tt.g.FaceCentreX - p.Crop.X) * s
			width := tt.g.FaceWidth * s
			if math.Abs(p.Shift.X) > photo.MaxPlanShift || math.Abs(p.Shift.Y) > photo.MaxPlanShift {
				t.Errorf("shift %+v beyond %v", p.Shift, photo.MaxPlanShift)
			}
			for _, c := range []struct {
				name      string
				got, want float64
			}{{"eye", eye, tt.eye}, {"crown", crown, tt.crown}, {"width", width, tt.width}, {"centre", centre, tt.centre}} {
				if c.want != 0 && math.Abs(c.got-c.want) > 0.05 {
					t.Errorf("%s = %.2f; want %.2f", c.name, c.got, c.want)
				}
			}
			if math.Abs(centre-240) > photo.CentreTolerance(spec) || crown < float64(spec.CrownMin) || crown > float64(spec.CrownMax) {
				t.Errorf("centre %.1f crown %.1f outside the spec", centre, crown)
			}
			if math.Abs(eye-250) > photo.MaxPlanShift {
				t.Errorf("eye line %.2f; want 250 +/- %v", eye, photo.MaxPlanShift)
			}
			if math.Abs(p.EyeY-eye) > 1e-9 || math.Abs(p.CrownY-crown) > 1e-9 {
				t.Errorf("plan says eye %.2f crown %.2f; window gives %.2f %.2f", p.EyeY, p.CrownY, eye, crown)
			}
		})
	}
}
