package photo

import (
	"image"
	"image/color"
	"math"
	"slices"
)

// Global colour and tone. Nothing here is local: one gain per channel
// (white balance) and one tone curve (a power on 0..1) are applied to every
// pixel the photo keeps from the frame. No smoothing, no beautification.

// White balance sources, as reported.
const (
	WBWall     = "wall"     // replace mode: the light wall is a known neutral
	WBPlate    = "plate"    // the clean plate's wall (calibration)
	WBBackdrop = "backdrop" // keep mode: the backdrop is the spec's colour
	WBNone     = "none"     // no usable reference: gains left at 1
)

// Gain limits: a reference needing more than this is not trusted as a
// white reference (a tinted wall, a wrong backdrop); the gains are clamped.
const (
	wbMaxGain = 1.25
	wbMinGain = 1 / wbMaxGain
	// toneMargin keeps the corrected face luma this far inside the spec's
	// exposure band, so the proof's own measure lands inside it.
	toneMargin   = 0.04
	toneMinGamma = 0.5
	toneMaxGamma = 2.0
)

// ColourCorrection is what was done to the colours, for the report.
type ColourCorrection struct {
	// Source says where the white balance came from (WBWall, WBPlate,
	// WBBackdrop, WBNone); Reference is the measured wall or backdrop
	// colour (sRGB), Gains the factors applied to R, G, B (sRGB values).
	Source    string     `json:"source"`
	Reference [3]float64 `json:"reference"`
	Gains     [3]float64 `json:"gains"`
	// Clamped is true when a gain hit its limit (the reference is far
	// from what it should be).
	Clamped bool `json:"clamped"`
	// Gamma is the tone curve out = in^Gamma (on 0..1), 1 when the face
	// was already inside the exposure band; FaceLumaBefore/After are the
	// face's mean luma (0..1) before and after.
	Gamma          float64 `json:"gamma"`
	FaceLumaBefore float64 `json:"face_luma_before"`
	FaceLumaAfter  float64 `json:"face_luma_after"`
}

// whiteBalance returns the gains that map the measured reference colour m
// onto the known colour ref (only its chromaticity: the gains keep m's
// luma), clamped.
func whiteBalance(m, ref [3]float64) (g [3]float64, clamped bool) {
	ym := lumaF(m)
	yr := lumaF(ref)
	if ym <= 1 || yr <= 1 || m[0] <= 1 || m[1] <= 1 || m[2] <= 1 {
		return [3]float64{1, 1, 1}, false
	}
	for c := range g {
		g[c] = ref[c] * ym / yr / m[c]
	}
	// keep the luma of the reference after the gains
	k := ym / lumaF([3]float64{g[0] * m[0], g[1] * m[1], g[2] * m[2]})
	for c := range g {
		v := g[c] * k
		if v > wbMaxGain || v < wbMinGain {
			clamped = true
		}
		g[c] = clampF(v, wbMinGain, wbMaxGain)
	}
	return g, clamped
}

func lumaF(c [3]float64) float64 { return 0.299*c[0] + 0.587*c[1] + 0.114*c[2] }

// toneLUT applies gains then the power curve, per channel, as a function
// on float values 0..255.
type toneLUT struct {
	gains [3]float64
	gamma float64
}

func (t toneLUT) apply(v float32, c int) float32 {
	x := clampF(float64(v)*t.gains[c]/255, 0, 1)
	if t.gamma != 1 {
		x = math.Pow(x, t.gamma)
	}
	return float32(x * 255)
}

// faceLumaSamples returns the output pixels of the face used for the
// exposure (the same area as the live exposure measure: across 1.5 IPD,
// from 0.45 IPD above the eyes to 1.35 below, without the eyes), that lie
// within the picture.
func faceLumaSamples(f faceLayout, w, h int) []int {
	const n = 40
	out := make([]int, 0, n*n)
	for i := 0; i < n; i++ {
		a := -0.75 + 1.5*(float64(i)+0.5)/n
		for j := 0; j < n; j++ {
			b := -0.45 + 1.8*(float64(j)+0.5)/n
			if b > -0.15 && b < 0.15 && math.Abs(math.Abs(a)-0.5) < 0.25 {
				continue
			}
			x := int(math.Round(f.eyeX + a*f.ipd))
			y := int(math.Round(f.eyeY + b*f.ipd))
			if x >= 0 && y >= 0 && x < w && y < h {
				out = append(out, y*w+x)
			}
		}
	}
	return out
}

// meanLumaAt is the mean luma (0..1) of img at the sample indices after t.
func meanLumaAt(img *rgbPlane, idx []int, t toneLUT) float64 {
	if len(idx) == 0 {
		return 0
	}
	var s float64
	for _, i := range idx {
		r := t.apply(img.pix[3*i], 0)
		g := t.apply(img.pix[3*i+1], 1)
		b := t.apply(img.pix[3*i+2], 2)
		s += 0.299*float64(r) + 0.587*float64(g) + 0.114*float64(b)
	}
	return s / float64(len(idx)) / 255
}

// planTone chooses the power curve that brings the face's mean luma (after
// the gains) into [lo+toneMargin, hi-toneMargin]; 1 when it is inside.
func planTone(img *rgbPlane, idx []int, gains [3]float64, lo, hi float64) (gamma, before, after float64) {
	t := toneLUT{gains: gains, gamma: 1}
	before = meanLumaAt(img, idx, t)
	target := before
	switch {
	case before < lo+toneMargin:
		target = lo + toneMargin
	case before > hi-toneMargin:
		target = hi - toneMargin
	default:
		return 1, before, before
	}
	if before <= 0 || before >= 1 {
		return 1, before, before
	}
	// The mean of a power is not the power of the mean: a few secant steps
	// on log(gamma) find the curve that moves the measured mean.
	g := math.Log(target) / math.Log(before)
	for k := 0; k < 4; k++ {
		g = clampF(g, toneMinGamma, toneMaxGamma)
		t.gamma = g
		m := meanLumaAt(img, idx, t)
		if math.Abs(m-target) < 0.002 || m <= 0 || m >= 1 {
			break
		}
		g *= math.Log(target) / math.Log(m)
	}
	t.gamma = clampF(g, toneMinGamma, toneMaxGamma)
	return t.gamma, before, meanLumaAt(img, idx, t)
}

// toneSteps is the size of a toneTable: the power is the costly part of
// the curve, so it is tabulated and interpolated.
const toneSteps = 4096

// toneTable is a tone curve tabulated per channel.
type toneTable struct {
	identity bool // gains 1 and gamma 1: values pass unchanged
	lut      [3][toneSteps + 1]float32
}

func newToneTable(t toneLUT) *toneTable {
	tt := &toneTable{identity: t.gamma == 1 && t.gains == [3]float64{1, 1, 1}}
	if !tt.identity {
		for c := 0; c < 3; c++ {
			for k := 0; k <= toneSteps; k++ {
				tt.lut[c][k] = t.apply(float32(k)*255/toneSteps, c)
			}
		}
	}
	return tt
}

// at is the curve at v (0..255) in channel c.
func (tt *toneTable) at(v float32, c int) float32 {
	if tt.identity {
		return v
	}
	x := float64(v) * toneSteps / 255
	k := int(x)
	switch {
	case k >= toneSteps:
		return tt.lut[c][toneSteps]
	case k < 0:
		return tt.lut[c][0]
	}
	fr := float32(x - float64(k))
	return tt.lut[c][k]*(1-fr) + tt.lut[c][k+1]*fr
}

// finish makes the photo's final pixels in one parallel pass: the tone
// curve t on img and, in replace mode (alpha not nil), the composite
// alpha*toned + (1-alpha)*the spec's colour; then the bytes and their
// full-resolution YCbCr (JFIF, color.RGBToYCbCr), which the size search
// encodes at each quality it tries without converting again (the
// encoder's own 4:2:0 averaging is unchanged, so the file is byte for
// byte the one the RGBA picture gives). In replace mode it also returns
// the matte as bytes, for review screens.
func finish(img *rgbPlane, alpha []float32, t toneLUT, spec Spec) (*image.YCbCr, *image.Gray) {
	tt := newToneTable(t)
	w, h := img.w, img.h
	ycc := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio444)
	var matte *image.Gray
	if alpha != nil {
		matte = image.NewGray(image.Rect(0, 0, w, h))
	}
	bg := [3]float32{float32(spec.Background.R), float32(spec.Background.G), float32(spec.Background.B)}
	parallelRows(h, func(y0, y1 int) {
		for i := y0 * w; i < y1*w; i++ {
			p := img.pix[3*i : 3*i+3 : 3*i+3]
			var o [3]float32
			for c := range o {
				o[c] = tt.at(p[c], c)
			}
			if alpha != nil {
				a := alpha[i]
				for c := range o {
					o[c] = a*o[c] + (1-a)*bg[c]
				}
				matte.Pix[i] = q8(a * 255)
			}
			ycc.Y[i], ycc.Cb[i], ycc.Cr[i] = color.RGBToYCbCr(q8(o[0]), q8(o[1]), q8(o[2]))
		}
	})
	return ycc, matte
}

// medianColour is the per-channel median of img at the sample points.
func medianColour(img *rgbPlane, pts [][2]int) [3]float64 {
	var ch [3][]float64
	for _, p := range pts {
		r, g, b := img.at(p[0], p[1])
		ch[0], ch[1], ch[2] = append(ch[0], float64(r)), append(ch[1], float64(g)), append(ch[2], float64(b))
	}
	var m [3]float64
	for c := range ch {
		if len(ch[c]) > 0 {
			slices.Sort(ch[c])
			m[c] = ch[c][len(ch[c])/2]
		}
	}
	return m
}
