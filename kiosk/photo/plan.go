package photo

import (
	"errors"
	"fmt"
	"math"
)

// The reasons Standardize refuses a frame. Each comes wrapped in a
// *RefusalError that carries a physical fix for the student or the
// operator; branch on them with errors.Is.
var (
	ErrNoFace       = errors.New("no face found")
	ErrManyFaces    = errors.New("more than one face")
	ErrOutsideFrame = errors.New("the photo's crop window leaves the frame")
	ErrUpscale      = errors.New("the photo would need upscaling")
	ErrBackground   = errors.New("the background cannot be used")
)

// RefusalError says why a frame cannot be standardized and what to change
// in the booth. Nothing is produced: no padding, no stretching, no
// rotation ever makes a refused frame fit.
type RefusalError struct {
	// Reason is one of the Err* sentinels above (not in the JSON).
	Reason error `json:"-"`
	// Code is Reason as a stable word: no_face, many_faces, outside_frame,
	// upscale, background; the station adds internal, for a panic in the
	// pipeline (kiosk.ErrPipelinePanic).
	Code string `json:"code"`
	// Detail is the measurement behind the refusal, in English, for logs
	// and the report; it holds no personal data.
	Detail string `json:"detail"`
	// Hint is the physical fix, zh-CN and English.
	Hint Hint `json:"hint"`
}

func (e *RefusalError) Error() string {
	if e.Detail == "" {
		return "standardize: " + e.Reason.Error()
	}
	return "standardize: " + e.Reason.Error() + ": " + e.Detail
}

// Unwrap returns Reason, so errors.Is(err, ErrUpscale) works.
func (e *RefusalError) Unwrap() error { return e.Reason }

func refuse(reason error, code string, h Hint, format string, args ...any) *RefusalError {
	return &RefusalError{Reason: reason, Code: code, Detail: fmt.Sprintf(format, args...), Hint: h}
}

// Physical fixes, by refusal (the framing ones say the same as the live
// framing and resolution checks).
var (
	hintNoFace     = Hint{Zh: "请正对镜头，让整张脸出现在画面中", En: "Face the camera so that your whole face is in view"}
	hintManyFaces  = Hint{Zh: "画面里只能有一个人：请其他人离开镜头", En: "Only one person may be in the picture: others please step out"}
	hintTooClose   = Hint{Zh: "离镜头太近：请向后坐一点", En: "Too close to the camera: move back a little"}
	hintTooFar     = Hint{Zh: "离镜头太远：请靠近镜头一点", En: "Too far from the camera: move a little closer"}
	hintMoveLeft   = Hint{Zh: "请向左移一点", En: "Move a little to your left"}
	hintMoveRight  = Hint{Zh: "请向右移一点", En: "Move a little to your right"}
	hintHeadHigh   = Hint{Zh: "头太靠上：请坐低一点，或把镜头调高", En: "Head too high: sit a little lower, or raise the camera"}
	hintHeadLow    = Hint{Zh: "头太靠下：请坐直坐高一点，或把镜头调低", En: "Head too low: sit up taller, or lower the camera"}
	hintCrownCut   = Hint{Zh: "头顶超出画面：请坐低一点，或把镜头调高", En: "The top of your head is out of the picture: sit a little lower, or raise the camera"}
	hintBackground = Hint{Zh: "背景不符合要求：请清理墙面、离墙远一点并检查灯光", En: "The background is not usable: clear the wall, step away from it and check the lights"}
)

// Plan is where the standardized photo falls in the frame: the crop
// window Crop (upright frame pixels, continuous coordinates: pixel i spans
// [i, i+1)) that is scaled by Scale to the spec's size. output = (frame -
// Crop.XY) * Scale, the same mapping as Geometry.Crop.
type Plan struct {
	Crop  Rect    `json:"crop"`
	Scale float64 `json:"scale"`
	// Shift is how far (output pixels) the window was moved from its
	// ideal place to fit inside the frame; at most MaxPlanShift.
	Shift Point `json:"shift"`
	// Where the face lands in the output, as planned from the frame's
	// geometry (the proof re-measures it on the file).
	EyeY      float64 `json:"eye_y"`
	CrownY    float64 `json:"crown_y"`
	FaceWidth float64 `json:"face_width"`
	CentreX   float64 `json:"centre_x"`
	IPD       float64 `json:"ipd"`
}

// MaxPlanShift is the largest move (output pixels, each axis) the planner
// makes to fit the crop window inside the frame, off the centre line or
// the eye target. A few pixels are well inside the centring tolerance and
// the eye band, and they absorb the margin the planner keeps from the
// crown band's edges, which the live framing check does not.
const MaxPlanShift = 4.0

// crownMargin keeps the planned crown this far (output pixels) inside its
// band, so that re-measuring the output (pupils jitter by about a pixel)
// does not land on the band's edge.
func crownMargin(s Spec) float64 { return min(3, float64(s.CrownMax-s.CrownMin)/8) }

// PlanCrop places the spec's output on the frame: the eye line on
// Spec.EyeTarget, the face centre on the centre line, and the scale that
// gives Spec.FaceWidthTarget, changed just enough to keep the crown inside
// its band (priority: eye line, crown, face width). It refuses, with a
// *RefusalError, a window that leaves the frame (ErrOutsideFrame) or a
// scale above 1 (ErrUpscale). The geometry is the frame's analysis.
func PlanCrop(g Geometry, spec Spec) (Plan, error) {
	if !g.Found || g.FaceWidth <= 0 || g.IPD <= 0 {
		return Plan{}, refuse(ErrNoFace, "no_face", hintNoFace, "no face geometry")
	}
	if g.CrownCut {
		return Plan{}, refuse(ErrOutsideFrame, "outside_frame", hintCrownCut, "the head reaches the top edge of the frame")
	}
	s := float64(spec.FaceWidthTarget) / g.FaceWidth
	if h := g.EyeMid.Y - g.CrownY; h > 0 {
		m := crownMargin(spec)
		lo := (float64(spec.EyeTarget) - (float64(spec.CrownMax) - m)) / h
		hi := (float64(spec.EyeTarget) - (float64(spec.CrownMin) + m)) / h
		s = clampF(s, lo, hi)
	}
	if s > 1+1e-9 {
		return Plan{}, refuse(ErrUpscale, "upscale", hintTooFar,
			"scale %.3f: the window holds %.0f of the %d rows needed", s, float64(spec.Height)/s, spec.Height)
	}
	w, h := float64(spec.Width)/s, float64(spec.Height)/s
	fw, fh := float64(g.Width), float64(g.Height)
	if w > fw+0.5 || h > fh+0.5 {
		return Plan{}, refuse(ErrOutsideFrame, "outside_frame", hintTooClose,
			"window %.0fx%.0f is larger than the frame %dx%d", w, h, g.Width, g.Height)
	}
	x := g.FaceCentreX - float64(spec.Width)/2/s
	y := g.EyeMid.Y - float64(spec.EyeTarget)/s
	// Fit inside the frame by at most MaxPlanShift output pixels.
	nx := clampF(x, 0, max(fw-w, 0))
	ny := clampF(y, 0, max(fh-h, 0))
	dx, dy := (nx-x)*s, (ny-y)*s
	switch {
	case dx > MaxPlanShift: // the window sticks out on the image-left side
		return Plan{}, refuse(ErrOutsideFrame, "outside_frame", hintMoveLeft, "window leaves the frame's left edge by %.0f output pixels", dx)
	case dx < -MaxPlanShift:
		return Plan{}, refuse(ErrOutsideFrame, "outside_frame", hintMoveRight, "window leaves the frame's right edge by %.0f output pixels", -dx)
	case dy > MaxPlanShift:
		return Plan{}, refuse(ErrOutsideFrame, "outside_frame", hintHeadHigh, "window leaves the frame's top edge by %.0f output pixels", dy)
	case dy < -MaxPlanShift:
		return Plan{}, refuse(ErrOutsideFrame, "outside_frame", hintHeadLow, "window leaves the frame's bottom edge by %.0f output pixels", -dy)
	}
	p := Plan{
		Crop:  Rect{X: nx, Y: ny, W: w, H: h},
		Scale: s,
		Shift: Point{X: dx, Y: dy},
	}
	p.EyeY = (g.EyeMid.Y - ny) * s
	p.CrownY = (g.CrownY - ny) * s
	p.FaceWidth = g.FaceWidth * s
	p.CentreX = (g.FaceCentreX - nx) * s
	p.IPD = g.IPD * s
	return p, nil
}

// toOutput maps a frame point to output pixels under the plan.
func (p Plan) toOutput(q Point) Point {
	return Point{X: (q.X - p.Crop.X) * p.Scale, Y: (q.Y - p.Crop.Y) * p.Scale}
}

func (p *Plan) round() {
	p.Crop = Rect{X: r2(p.Crop.X), Y: r2(p.Crop.Y), W: r2(p.Crop.W), H: r2(p.Crop.H)}
	p.Scale = math.Round(p.Scale*1e6) / 1e6
	p.Shift = Point{X: r2(p.Shift.X), Y: r2(p.Shift.Y)}
	p.EyeY, p.CrownY, p.FaceWidth, p.CentreX, p.IPD = r2(p.EyeY), r2(p.CrownY), r2(p.FaceWidth), r2(p.CentreX), r2(p.IPD)
}
