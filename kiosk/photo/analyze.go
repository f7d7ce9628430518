package photo

import (
	"fmt"
	"image"
	"math"
)

// Options say how to analyse a frame.
type Options struct {
	// Spec is the template; the zero Spec means the default template.
	Spec Spec
	// Background is the booth's background mode; empty means replace.
	Background Background
	// Rotation is how far, in degrees clockwise (0, 90, 180, 270), the
	// picture must be turned to stand upright (kiosk.Frame.Rotation). The
	// turn is a lossless transpose of the decoded pixels.
	Rotation int
}

// Analyzer measures frames and runs the checks. It keeps scratch buffers
// between calls, so one Analyzer must not be used by two goroutines at
// once; make one per goroutine (the cascades are shared, not copied).
type Analyzer struct {
	// MinFaceQ is the detector score from which a cluster counts as a face.
	MinFaceQ float64
	// MaxPixels bounds the pictures AnalyzeBytes decodes.
	MaxPixels int
	// Limits are the camera-dependent gates.
	Limits Limits
	// Full also locates the mouth corners and the lower lip (3 ms more);
	// for the capture-time analysis, not the live loop.
	Full bool

	cs *cascadeSet
	px pixels
	jd *lumaDecoder // AnalyzeBytes' JPEG decoder, made on first use
	// lumaUsed says whether the last AnalyzeBytes went through jd.
	lumaUsed bool

	faces         []face
	checks        []CheckResult
	rgbScratch    []rgbf
	floatScratch  []float64
	floatScratch2 []float64
	floatScratch3 []float64
	cellScratch   []cellStat
	prof          []float64
	patch         []float64
	tmp, tmp2     []float32 // landmark searches (two run side by side)
}

type cellStat struct {
	l, std float64
	near   bool // next to the head
	col    rgbf
}

// NewAnalyzer returns an Analyzer with the default tunables. The first
// call in a process unpacks the embedded cascades (about 30 ms).
func NewAnalyzer() (*Analyzer, error) {
	cs, err := cascades()
	if err != nil {
		return nil, err
	}
	return &Analyzer{
		MinFaceQ:  DefaultMinFaceQ,
		MaxPixels: DefaultMaxPixels,
		Limits:    DefaultLimits(),
		cs:        cs,
		prof:      make([]float64, 0, 256),
		patch:     make([]float64, 72*72),
	}, nil
}

// AnalyzeBytes decodes a JPEG or PNG picture (bounded by MaxPixels, see
// Decode) and analyses it. The error is for undecodable bytes and bad
// options; what the checks find is in the Analysis.
//
// Unless Full is set, a baseline JPEG (what cameras send) is decoded by the
// live loop's own decoder: full-resolution luma, and colour as one mean
// per chroma block (8x8 chroma samples), which is all the colour measures
// need and about three times faster than image/jpeg. Other pictures, and
// any JPEG that decoder refuses, go through Decode. Full analyses (capture
// time) always use Decode, so their colour measures are exact.
func (a *Analyzer) AnalyzeBytes(b []byte, opt Options) (Analysis, error) {
	a.lumaUsed = false
	if !a.Full {
		if a.jd == nil {
			a.jd = new(lumaDecoder)
		}
		if a.jd.decode(b, a.MaxPixels) == nil {
			spec, mode, err := resolveOptions(opt)
			if err != nil {
				return Analysis{}, err
			}
			if err := a.px.loadFrame(&a.jd.frame, opt.Rotation); err != nil {
				return Analysis{}, fmt.Errorf("analyse picture: %w", err)
			}
			a.lumaUsed = true
			return a.analyze(spec, mode, opt.Rotation), nil
		}
		// Refused or broken: Decode handles it or says what is wrong.
	}
	img, err := Decode(b, a.MaxPixels)
	if err != nil {
		return Analysis{}, err
	}
	return a.Analyze(img, opt)
}

// Analyze measures img and runs the checks of opt.Spec. The returned
// Analysis owns its Checks slice.
func (a *Analyzer) Analyze(img image.Image, opt Options) (Analysis, error) {
	spec, mode, err := resolveOptions(opt)
	if err != nil {
		return Analysis{}, err
	}
	if err := a.px.load(img, opt.Rotation); err != nil {
		return Analysis{}, fmt.Errorf("analyse picture: %w", err)
	}
	return a.analyze(spec, mode, opt.Rotation), nil
}

// resolveOptions returns the spec (the default for the zero Spec) and the
// background mode of opt, validated.
func resolveOptions(opt Options) (Spec, Background, error) {
	spec := opt.Spec
	if spec.ID == "" && spec.Width == 0 {
		spec = Specs[DefaultSpecID]
	}
	if err := spec.Validate(); err != nil {
		return Spec{}, "", err
	}
	mode, err := ParseBackground(string(opt.Background))
	if err != nil {
		return Spec{}, "", err
	}
	return spec, mode, nil
}

// analyze measures the loaded picture a.px and runs the checks.
func (a *Analyzer) analyze(spec Spec, mode Background, rotation int) Analysis {
	p := &a.px
	var an Analysis
	g := &an.Geometry
	g.Width, g.Height, g.Rotation = p.w, p.h, rotation
	faces := a.detectFaces(p, a.MinFaceQ)
	an.Faces = len(faces)
	if len(faces) > 0 {
		a.measure(p, faces[0], spec, mode, &an)
	}
	a.checks = evaluate(an.Faces, g, &an.Measures, spec, mode, a.Limits, a.checks)
	an.Checks = append([]CheckResult(nil), a.checks...)
	an.Ready = true
	for _, c := range an.Checks {
		if c.Status != StatusPass {
			an.Ready = false
		}
	}
	return an
}

// measure fills the geometry and measures of face f.
func (a *Analyzer) measure(p *pixels, f face, spec Spec, mode Background, an *Analysis) {
	g, m := &an.Geometry, &an.Measures
	g.Found = true
	g.FaceBox = Rect{X: f.x - f.side/2, Y: f.y - f.side/2, W: f.side, H: f.side}
	g.FaceScore = math.Round(f.q*10) / 10
	a.locate(p, f, g)
	l, r := g.Pupils[0], g.Pupils[1]
	g.EyeMid = Point{(l.X + r.X) / 2, (l.Y + r.Y) / 2}
	g.IPD = math.Hypot(r.X-l.X, r.Y-l.Y)
	pose(g)
	// Face width from the IPD, corrected for yaw (which shortens the IPD
	// but hardly the cheek-to-cheek width).
	g.FaceWidth = faceWidthPerIPD * g.IPD / math.Cos(g.YawDeg*math.Pi/180)
	lm := g.Landmarks
	g.FaceCentreX = (g.EyeMid.X + lm.UpperLip.X) / 2
	a.crown(p, g)
	planCrop(g, spec)

	axes := newAxes(g)
	// Skin reference: the two cheeks, below the pupils.
	lc := p.meanLuma(axes, -0.62, -0.38, 0.48, 0.72, 6)
	rc := p.meanLuma(axes, 0.38, 0.62, 0.48, 0.72, 6)
	skin := (lc + rc) / 2
	if skin > 0 {
		m.LightBalance = (rc - lc) / skin
	}
	m.EyeOpenness[0] = p.eyeOpenness(axes, -0.5, skin, a.prof)
	m.EyeOpenness[1] = p.eyeOpenness(axes, 0.5, skin, a.prof)
	_, lipB := axes.toFace(lm.UpperLip)
	if lipB < 0.7 || lipB > 1.4 {
		lipB = 1.03 // the landmark strayed; use the average face
	}
	m.MouthGap = p.mouthGap(axes, lipB, skin)
	p.exposure(axes, m)
	m.Sharpness = p.sharpness(axes, a.patch)
	a.background(p, g, spec, &m.Background)
	a.clothing(p, g, spec, &m.Background, &m.Clothing)
	m.round()
	g.round()
}

// planCrop places the output on the frame: the eye line on the spec's eye
// target, the face centre on the centre line, and the scale that gives the
// target face width, moved just enough to put the crown in its band (the
// priority of PHOTO-SPEC.md: eye line, crown, face width).
func planCrop(g *Geometry, spec Spec) {
	s := float64(spec.FaceWidthTarget) / g.FaceWidth
	if h := g.EyeMid.Y - g.CrownY; !g.CrownCut && h > 0 {
		lo := float64(spec.EyeTarget-spec.CrownMax) / h
		hi := float64(spec.EyeTarget-spec.CrownMin) / h
		s = clampF(s, lo, hi)
	}
	c := Crop{Scale: s}
	c.W = float64(spec.Width) / s
	c.H = float64(spec.Height) / s
	c.X = g.FaceCentreX - float64(spec.Width)/2/s
	c.Y = g.EyeMid.Y - float64(spec.EyeTarget)/s
	const tol = 0.5
	c.Inside = c.X >= -tol && c.Y >= -tol && c.X+c.W <= float64(g.Width)+tol && c.Y+c.H <= float64(g.Height)+tol
	g.Crop = c
	g.Output = Output{
		EyeY:          float64(spec.EyeTarget),
		CrownY:        (g.CrownY - c.Y) * s,
		FaceWidth:     g.FaceWidth * s,
		CentreX:       (g.FaceCentreX - c.X) * s,
		IPD:           g.IPD * s,
		EyeBand:       [2]int{spec.EyeMin, spec.EyeMax},
		CrownBand:     [2]int{spec.CrownMin, spec.CrownMax},
		FaceWidthBand: [2]int{spec.FaceWidthMin, spec.FaceWidthMax},
		CentreLine:    spec.Width / 2,
	}
}

func r2(v float64) float64 { return math.Round(v*100) / 100 }
func r4(v float64) float64 { return math.Round(v*10000) / 10000 }

func (p *Point) round() { p.X, p.Y = r2(p.X), r2(p.Y) }

// round keeps the JSON short and stable: geometry to 0.01 px.
func (g *Geometry) round() {
	for _, p := range []*Point{&g.Pupils[0], &g.Pupils[1], &g.EyeMid, &g.Landmarks.NoseTip, &g.Landmarks.UpperLip,
		g.Landmarks.LowerLip, g.Landmarks.MouthLeft, g.Landmarks.MouthRight} {
		if p != nil {
			p.round()
		}
	}
	g.IPD, g.FaceWidth, g.FaceCentreX, g.CrownY = r2(g.IPD), r2(g.FaceWidth), r2(g.FaceCentreX), r2(g.CrownY)
	g.RollDeg, g.YawDeg, g.PitchDeg = r2(g.RollDeg), r2(g.YawDeg), r2(g.PitchDeg)
	c := &g.Crop
	c.X, c.Y, c.W, c.H, c.Scale = r2(c.X), r2(c.Y), r2(c.W), r2(c.H), r4(c.Scale)
	o := &g.Output
	o.CrownY, o.FaceWidth, o.CentreX, o.IPD = r2(o.CrownY), r2(o.FaceWidth), r2(o.CentreX), r2(o.IPD)
}

func (m *Measures) round() {
	m.EyeOpenness[0], m.EyeOpenness[1] = r4(m.EyeOpenness[0]), r4(m.EyeOpenness[1])
	m.MouthGap, m.FaceLuma, m.Clipped, m.Crushed = r4(m.MouthGap), r4(m.FaceLuma), r4(m.Clipped), r4(m.Crushed)
	m.LightBalance, m.Sharpness = r4(m.LightBalance), r2(m.Sharpness)
	b := &m.Background
	b.Texture, b.Spread, b.Shadow, b.L, b.DeltaE = r2(b.Texture), r2(b.Spread), r2(b.Shadow), r2(b.L), r2(b.DeltaE)
	c := &m.Clothing
	c.DeltaE, c.HueDiff, c.Chroma = r2(c.DeltaE), r2(c.HueDiff), r2(c.Chroma)
}
