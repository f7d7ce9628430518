package photo

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"strings"
)

// StandardizeOptions say how to standardize one frame.
type StandardizeOptions struct {
	// Spec is the template; the zero Spec means the default template.
	Spec Spec
	// Background is the mode; empty means BackgroundReplace.
	Background Background
	// Rotation (0, 90, 180, 270, clockwise) turns the frame upright: the
	// lossless transpose of a portrait-mounted camera (kiosk.Frame.Rotation).
	Rotation int
	// CleanPlate is an optional frame of the empty booth from the same
	// camera, with the same size and Rotation: the wall model (replace
	// mode) and the white balance then come from it.
	CleanPlate image.Image
}

// Result is a standardized photo with its proof.
type Result struct {
	// JPEG is the file: baseline, 3 channels, JFIF 300 dpi (the spec's
	// DPI), no EXIF. With a *ProofError it is returned for inspection
	// only and must not be stored as a valid photo; after a refusal it
	// is nil.
	JPEG []byte `json:"-"`
	// Report is the proof, measured on the decoded file.
	Report Report `json:"report"`
	// Matte is the person's alpha in output pixels (replace mode), for
	// review screens; nil in keep mode.
	Matte *image.Gray `json:"-"`
}

// Report is the proof of a standardized photo, the JSON that `kioskd
// standardize` prints. Positions are output pixels, re-measured on the
// decoded file with the same analysis code as the live checks.
type Report struct {
	Spec string     `json:"spec"`
	Mode Background `json:"mode"`
	// OK is true when no proof check failed (warnings allowed).
	OK bool `json:"ok"`
	// Refusal is set when the frame could not be standardized at all.
	Refusal *RefusalError `json:"refusal,omitempty"`

	Width   int `json:"width"`
	Height  int `json:"height"`
	Bytes   int `json:"bytes"`
	Quality int `json:"quality"`
	// QualityEstimated is read back from the file's quantisation tables.
	QualityEstimated int `json:"quality_estimated"`
	// Tries are the sizes of the qualities the search encoded.
	Tries []QualityTry `json:"tries,omitempty"`
	DPI   int          `json:"dpi"`

	EyeY      float64 `json:"eye_y"`
	CrownY    float64 `json:"crown_y"`
	FaceWidth float64 `json:"face_width"`
	CentreX   float64 `json:"centre_x"`
	IPD       float64 `json:"ipd"`
	FaceLuma  float64 `json:"face_luma"`
	// BackgroundDeltaE is the largest CIEDE2000 distance from the spec's
	// colour over the corner and edge patches; BackgroundMaxDiff the
	// largest difference of a patch's mean in one channel (0..255 levels).
	BackgroundDeltaE  float64 `json:"background_delta_e"`
	BackgroundMaxDiff float64 `json:"background_max_diff"`

	Plan       Plan             `json:"plan"`
	Colour     ColourCorrection `json:"colour"`
	CleanPlate bool             `json:"clean_plate"`

	// Checks are the proof: each spec item measured on the file.
	Checks []ProofCheck `json:"checks"`
	// InputChecks are the live checks of the frame; the subject's own
	// state (eyes, mouth, pose, clothes) is the capture flow's gate.
	InputChecks []CheckResult `json:"input_checks"`
	// OutputChecks are the same live checks run on the output photo
	// (without framing and resolution, which are about camera frames).
	OutputChecks []CheckResult `json:"output_checks,omitempty"`
}

// QualityTry is one encode of the quality search.
type QualityTry struct {
	Quality int `json:"quality"`
	Bytes   int `json:"bytes"`
}

// ProofCheck is one spec item measured on the output file.
type ProofCheck struct {
	ID     string  `json:"id"`
	Status Status  `json:"status"`
	Value  float64 `json:"value"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	Note   string  `json:"note,omitempty"`
}

// The proof checks, in report order.
const (
	ProofPixels     = "pixels"     // width x height exact (Value: width)
	ProofFormat     = "format"     // baseline, 3 components, JFIF, no EXIF
	ProofDensity    = "density"    // JFIF density in dpi
	ProofQuality    = "quality"    // quality read from the quantisation tables
	ProofSize       = "size"       // bytes: warn outside the target, fail above the hard maximum
	ProofFaceCount  = "face_count" // one face in the output
	ProofEyeLine    = "eye_line"   // eye line from the top edge
	ProofCrown      = "crown"      // top of the hair from the top edge
	ProofFaceWidth  = "face_width" // cheek to cheek
	ProofCentre     = "centre"     // face centre x
	ProofIPD        = "ipd"        // distance between the pupils
	ProofBackground = "background" // corners and edges: the spec's colour
	ProofExposure   = "exposure"   // face mean luma in the band
)

// ErrOutOfSpec is wrapped by *ProofError.
var ErrOutOfSpec = errors.New("standardized photo outside the spec")

// ProofError lists the proof checks that failed: the file exists but is
// outside the spec, and must not be kept as a valid photo.
type ProofError struct {
	Failed []ProofCheck
}

func (e *ProofError) Error() string {
	var b strings.Builder
	b.WriteString("standardize: ")
	b.WriteString(ErrOutOfSpec.Error())
	for i, c := range e.Failed {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %.4g (want %.4g..%.4g)", c.ID, c.Value, c.Min, c.Max)
		if c.Note != "" {
			fmt.Fprintf(&b, " %s", c.Note)
		}
	}
	return b.String()
}

// Unwrap returns ErrOutOfSpec.
func (e *ProofError) Unwrap() error { return ErrOutOfSpec }

// CentreTolerance is how far (output pixels) the face centre may sit from
// the vertical centre line: 2.5 % of the width, 12 px on the 480 px photo
// (PHOTO-SPEC.md, "240 +/- 12 px").
func CentreTolerance(s Spec) float64 { return math.Round(0.025 * float64(s.Width)) }

// backgroundTolerance is the largest channel difference (levels) of a
// background patch's mean from the spec's colour in replace mode: the
// composite is exact, JPEG's rounding moves a flat area by a level or two.
const backgroundTolerance = 2.5

// StandardizeBytes decodes a JPEG or PNG frame (bounded by MaxPixels) and
// standardizes it.
func (a *Analyzer) StandardizeBytes(b []byte, opt StandardizeOptions) (Result, error) {
	img, err := Decode(b, a.MaxPixels)
	if err != nil {
		return Result{}, err
	}
	return a.Standardize(img, opt)
}

// Standardize turns a full-resolution frame into the spec's photo: crop
// and isotropic scale in one resampling pass (never padded, stretched,
// rotated or mirrored), the background replaced or kept, global white
// balance and tone, JPEG at the size window with the spec's density; then
// it decodes the file and proves it against the spec.
//
// A frame that cannot be standardized gives a *RefusalError (ErrNoFace,
// ErrManyFaces, ErrOutsideFrame, ErrUpscale, ErrBackground) and a Result
// whose Report carries the refusal and the frame's checks. A file that was
// made but fails its proof gives a *ProofError (ErrOutOfSpec) with the
// full Result. Other errors are bad options or unreadable pictures.
func (a *Analyzer) Standardize(img image.Image, opt StandardizeOptions) (Result, error) {
	spec := opt.Spec
	if spec.ID == "" && spec.Width == 0 {
		spec = Specs[DefaultSpecID]
	}
	if err := spec.Validate(); err != nil {
		return Result{}, err
	}
	mode, err := ParseBackground(string(opt.Background))
	if err != nil {
		return Result{}, err
	}
	fw, fh, _, err := uprightSize(img, opt.Rotation)
	if err != nil {
		return Result{}, fmt.Errorf("standardize: %w", err)
	}
	if opt.CleanPlate != nil {
		pb, ib := opt.CleanPlate.Bounds(), img.Bounds()
		if pb.Dx() != ib.Dx() || pb.Dy() != ib.Dy() {
			return Result{}, fmt.Errorf("standardize: clean plate is %dx%d, frame %dx%d", pb.Dx(), pb.Dy(), ib.Dx(), ib.Dy())
		}
	}
	res := Result{Report: Report{Spec: spec.ID, Mode: mode, CleanPlate: opt.CleanPlate != nil}}
	rep := &res.Report

	an, err := a.Analyze(img, Options{Spec: spec, Background: mode, Rotation: opt.Rotation})
	if err != nil {
		return Result{}, fmt.Errorf("standardize: %w", err)
	}
	rep.InputChecks = an.Checks
	refused := func(e *RefusalError) (Result, error) {
		rep.Refusal = e
		return res, e
	}
	switch {
	case an.Faces == 0:
		return refused(refuse(ErrNoFace, "no_face", hintNoFace, "no face in the %dx%d frame", fw, fh))
	case an.Faces > 1:
		return refused(refuse(ErrManyFaces, "many_faces", hintManyFaces, "%d faces", an.Faces))
	}
	if c, ok := an.Check(CheckBackground); ok && c.Status == StatusFail &&
		(mode == BackgroundKeep || c.Measure == "texture" || c.Measure == "shadow") {
		h := hintBackground
		if c.Hint != nil {
			h = *c.Hint
		}
		return refused(refuse(ErrBackground, "background", h, "background %s %.3g above %.3g", c.Measure, c.Value, c.Limit))
	}
	plan, err := PlanCrop(an.Geometry, spec)
	if err != nil {
		var re *RefusalError
		if errors.As(err, &re) {
			return refused(re)
		}
		return Result{}, err
	}
	rep.Plan = plan
	rep.Plan.round()

	out, err := renderCrop(img, opt.Rotation, plan.Crop, spec.Width, spec.Height)
	if err != nil {
		return Result{}, fmt.Errorf("standardize: %w", err)
	}
	eye := plan.toOutput(an.Geometry.EyeMid)
	face := faceLayout{eyeX: eye.X, eyeY: eye.Y, ipd: plan.IPD, faceWidth: plan.FaceWidth, crownY: plan.CrownY}
	var plate *rgbPlane
	if opt.CleanPlate != nil {
		if plate, err = renderCrop(opt.CleanPlate, opt.Rotation, plan.Crop, spec.Width, spec.Height); err != nil {
			return Result{}, fmt.Errorf("standardize: clean plate: %w", err)
		}
	}
	idx := faceLumaSamples(face, spec.Width, spec.Height)
	cc := &rep.Colour
	var ycc *image.YCbCr // the final pixels
	switch mode {
	case BackgroundReplace:
		m := pullMatte(out, plate, face)
		cc.Source, cc.Reference = WBWall, m.wall.mean
		if plate != nil {
			cc.Source = WBPlate
			pm := medianColour(plate, wallSamples(spec.Width, spec.Height, face))
			for c := range pm {
				cc.Reference[c] = pm[c] * m.wall.gain[c]
			}
		}
		y := lumaF(cc.Reference)
		cc.Gains, cc.Clamped = whiteBalance(cc.Reference, [3]float64{y, y, y})
		cc.Gamma, cc.FaceLumaBefore, cc.FaceLumaAfter = planTone(m.fg, idx, cc.Gains, spec.ExposureMin, spec.ExposureMax)
		ycc, res.Matte = finish(m.fg, m.alpha, toneLUT{gains: cc.Gains, gamma: cc.Gamma}, spec)
	case BackgroundKeep:
		wall := fitWall(out, nil, wallSamples(spec.Width, spec.Height, face))
		cc.Source, cc.Reference = WBBackdrop, wall.mean
		ref := spec.Background
		cc.Gains, cc.Clamped = whiteBalance(cc.Reference, [3]float64{float64(ref.R), float64(ref.G), float64(ref.B)})
		cc.Gamma, cc.FaceLumaBefore, cc.FaceLumaAfter = planTone(out, idx, cc.Gains, spec.ExposureMin, spec.ExposureMax)
		ycc, _ = finish(out, nil, toneLUT{gains: cc.Gains, gamma: cc.Gamma}, spec)
	}
	cc.round()

	win := specWindow(spec)
	file, q, sizes, err := encodeWindow(ycc, spec.DPI, spec.MinQuality, win)
	for qq := spec.MinQuality; qq <= MaxSearchQuality; qq++ {
		if n, ok := sizes[qq]; ok {
			rep.Tries = append(rep.Tries, QualityTry{Quality: qq, Bytes: n})
		}
	}
	if err != nil {
		return res, fmt.Errorf("standardize: %w", err)
	}
	res.JPEG, rep.Quality = file, q
	if err := a.prove(&res, spec, mode, win); err != nil {
		return res, err
	}
	return res, nil
}

func (c *ColourCorrection) round() {
	for i := range c.Gains {
		c.Gains[i], c.Reference[i] = r4(c.Gains[i]), r2(c.Reference[i])
	}
	c.Gamma, c.FaceLumaBefore, c.FaceLumaAfter = r4(c.Gamma), r4(c.FaceLumaBefore), r4(c.FaceLumaAfter)
}

// prove decodes res.JPEG, re-measures it and fills the report's checks. It
// returns a *ProofError when any check failed.
func (a *Analyzer) prove(res *Result, spec Spec, mode Background, win sizeWindow) error {
	rep := &res.Report
	rep.Bytes = len(res.JPEG)
	var checks []ProofCheck
	add := func(id string, ok bool, v, lo, hi float64, note string) {
		st := StatusPass
		if !ok {
			st = StatusFail
		}
		checks = append(checks, ProofCheck{ID: id, Status: st, Value: r2(v), Min: lo, Max: hi, Note: note})
	}
	defer func() {
		rep.Checks = checks
		rep.OK = true
		for _, c := range checks {
			if c.Status == StatusFail {
				rep.OK = false
			}
		}
	}()
	failed := func() error {
		var f []ProofCheck
		for _, c := range checks {
			if c.Status == StatusFail {
				f = append(f, c)
			}
		}
		if len(f) == 0 {
			return nil
		}
		return &ProofError{Failed: f}
	}

	info, err := ParseJPEG(res.JPEG)
	if err != nil {
		add(ProofFormat, false, 0, 1, 1, err.Error())
		return failed()
	}
	img, err := jpeg.Decode(bytes.NewReader(res.JPEG))
	if err != nil {
		add(ProofFormat, false, 0, 1, 1, "decode: "+err.Error())
		return failed()
	}
	b := img.Bounds()
	rep.Width, rep.Height = b.Dx(), b.Dy()
	rep.QualityEstimated = info.Quality
	dx, dy := info.DPI()
	rep.DPI = int(math.Round(dx))

	add(ProofPixels, b.Dx() == spec.Width && b.Dy() == spec.Height && info.Width == spec.Width && info.Height == spec.Height,
		float64(b.Dx()), float64(spec.Width), float64(spec.Width), fmt.Sprintf("%dx%d", b.Dx(), b.Dy()))
	var probs []string
	if !info.Baseline {
		probs = append(probs, fmt.Sprintf("SOF 0x%02X, not baseline", info.SOF))
	}
	if info.Components != 3 {
		probs = append(probs, fmt.Sprintf("%d components", info.Components))
	}
	if !info.JFIF {
		probs = append(probs, "no JFIF header")
	}
	if info.EXIF {
		probs = append(probs, "EXIF present")
	}
	add(ProofFormat, len(probs) == 0, float64(len(probs)), 0, 0, strings.Join(probs, "; "))
	add(ProofDensity, info.DensityUnit == 1 && int(dx) == spec.DPI && int(dy) == spec.DPI, dx, float64(spec.DPI), float64(spec.DPI),
		fmt.Sprintf("unit %d, %dx%d", info.DensityUnit, info.XDensity, info.YDensity))
	add(ProofQuality, info.Quality >= spec.MinQuality && info.Quality <= MaxSearchQuality && info.QualityError == 0,
		float64(info.Quality), float64(spec.MinQuality), MaxSearchQuality, fmt.Sprintf("table error %.3g", info.QualityError))
	size := ProofCheck{ID: ProofSize, Status: StatusPass, Value: float64(len(res.JPEG)), Min: float64(win.min), Max: float64(win.max)}
	switch {
	case len(res.JPEG) > win.hard:
		size.Status, size.Note = StatusFail, fmt.Sprintf("above the hard maximum %d", win.hard)
	case len(res.JPEG) > win.max:
		size.Status, size.Note = StatusWarn, "above the target even at the lowest quality"
	case len(res.JPEG) < win.min:
		size.Status, size.Note = StatusWarn, fmt.Sprintf("below the target even at quality %d", MaxSearchQuality)
	}
	checks = append(checks, size)

	an, err := a.Analyze(img, Options{Spec: spec, Background: mode})
	if err != nil {
		add(ProofFaceCount, false, 0, 1, 1, err.Error())
		return failed()
	}
	// framing and resolution are about a camera frame: on the output
	// (crop = the whole photo, scale about 1) they mean nothing.
	for _, c := range an.Checks {
		if c.ID != CheckFraming && c.ID != CheckResolution {
			rep.OutputChecks = append(rep.OutputChecks, c)
		}
	}
	add(ProofFaceCount, an.Faces == 1, float64(an.Faces), 1, 1, "")
	if an.Faces >= 1 {
		g := an.Geometry
		rep.EyeY, rep.CrownY, rep.FaceWidth, rep.CentreX, rep.IPD = g.EyeMid.Y, g.CrownY, g.FaceWidth, g.FaceCentreX, g.IPD
		rep.FaceLuma = an.Measures.FaceLuma
		band := func(id string, v float64, lo, hi int, note string) {
			add(id, v >= float64(lo) && v <= float64(hi), v, float64(lo), float64(hi), note)
		}
		band(ProofEyeLine, g.EyeMid.Y, spec.EyeMin, spec.EyeMax, "")
		crownNote := ""
		if g.CrownCut {
			crownNote = "crown cut by the top edge"
		}
		add(ProofCrown, !g.CrownCut && g.CrownY >= float64(spec.CrownMin) && g.CrownY <= float64(spec.CrownMax),
			g.CrownY, float64(spec.CrownMin), float64(spec.CrownMax), crownNote)
		band(ProofFaceWidth, g.FaceWidth, spec.FaceWidthMin, spec.FaceWidthMax, "")
		tol := CentreTolerance(spec)
		c := float64(spec.Width) / 2
		add(ProofCentre, math.Abs(g.FaceCentreX-c) <= tol, g.FaceCentreX, c-tol, c+tol, "")
		add(ProofIPD, g.IPD >= float64(spec.MinIPD), g.IPD, float64(spec.MinIPD), float64(spec.Width), "")
		bg := measureBorder(img, spec, g.EyeMid.Y)
		rep.BackgroundDeltaE, rep.BackgroundMaxDiff = r2(bg.deltaE), r2(bg.maxDiff)
		if mode == BackgroundReplace {
			add(ProofBackground, bg.maxDiff <= backgroundTolerance, bg.maxDiff, 0, backgroundTolerance,
				fmt.Sprintf("worst patch %s, CIEDE2000 %.2f", bg.worst, bg.deltaE))
		} else {
			add(ProofBackground, bg.deltaE <= spec.BackgroundMaxDeltaE, bg.deltaE, 0, spec.BackgroundMaxDeltaE,
				fmt.Sprintf("worst patch %s", bg.worst))
		}
		add(ProofExposure, rep.FaceLuma >= spec.ExposureMin && rep.FaceLuma <= spec.ExposureMax,
			rep.FaceLuma, spec.ExposureMin, spec.ExposureMax, "")
	}
	return failed()
}

// borderMeasure is the background at the corners and edges of the output.
type borderMeasure struct {
	deltaE, maxDiff float64
	worst           string
}

// measureBorder averages square patches at the top corners, the top centre
// and the left and right edges at the eye line (all wall by the spec's
// geometry), and compares each mean with the spec's colour.
func measureBorder(img image.Image, spec Spec, eyeY float64) borderMeasure {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	k := max(w/30, 6)
	const inset = 2
	ey := clampInt(int(eyeY)-k/2, inset, h-k-inset)
	patches := []struct {
		name string
		x, y int
	}{
		{"top_left", inset, inset},
		{"top_centre", w/2 - k/2, inset},
		{"top_right", w - k - inset, inset},
		{"left_edge", inset, ey},
		{"right_edge", w - k - inset, ey},
	}
	read := readerFor(img)
	ref := spec.Background
	refLab := toLab(float64(ref.R), float64(ref.G), float64(ref.B))
	var m borderMeasure
	for _, p := range patches {
		var s [3]float64
		for y := p.y; y < p.y+k; y++ {
			for x := p.x; x < p.x+k; x++ {
				r, g, bl := read(b.Min.X+x, b.Min.Y+y)
				s[0] += float64(r)
				s[1] += float64(g)
				s[2] += float64(bl)
			}
		}
		n := float64(k * k)
		mean := [3]float64{s[0] / n, s[1] / n, s[2] / n}
		diff := max(math.Abs(mean[0]-float64(ref.R)), math.Abs(mean[1]-float64(ref.G)), math.Abs(mean[2]-float64(ref.B)))
		de := deltaE00(toLab(mean[0], mean[1], mean[2]), refLab)
		if de > m.deltaE || m.worst == "" {
			m.worst = p.name
		}
		m.deltaE = max(m.deltaE, de)
		m.maxDiff = max(m.maxDiff, diff)
	}
	return m
}
