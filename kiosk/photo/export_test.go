package photo

import (
	"image"

	pigo "github.com/esimov/pigo/core"
)

// Test hooks for the external tests of the live loop's JPEG decoder.

// LumaPlanes is what the analysis's JPEG decoder made of a frame.
type LumaPlanes struct {
	W, H int
	Gray bool
	// MaxCoef bounds the dequantized coefficients' magnitude.
	MaxCoef int64
	f       *lumaFrame
}

// At returns luma and (block-mean) chroma at frame pixel (x, y).
func (p LumaPlanes) At(x, y int) (yy, cb, cr uint8) { return p.f.at(x, y) }

// LumaDecoder exposes the analysis's decoder; one value reuses its planes.
type LumaDecoder struct{ d lumaDecoder }

// Decode decodes b; the planes stay valid until the next call.
func (l *LumaDecoder) Decode(b []byte, maxPixels int) (LumaPlanes, error) {
	if err := l.d.decode(b, maxPixels); err != nil {
		return LumaPlanes{}, err
	}
	f := &l.d.frame
	return LumaPlanes{W: f.w, H: f.h, Gray: f.gray, MaxCoef: f.maxCoef, f: f}, nil
}

// PlanesAddr is the address of the luma plane's first byte (reuse checks).
func (l *LumaDecoder) PlanesAddr() *uint8 { return &l.d.frame.y[0] }

// DecodedWithLuma reports whether a's last AnalyzeBytes used the live
// loop's decoder (true) or Decode (false).
func DecodedWithLuma(a *Analyzer) bool { return a.lumaUsed }

// PlanesCap is the capacity of the luma plane (allocation checks).
func (l *LumaDecoder) PlanesCap() int { return cap(l.d.frame.y) }

// DecodeImage is Decode's own baseline decoder, without the fallback to
// image/jpeg; maxCoef bounds the dequantized coefficients' magnitude.
func DecodeImage(b []byte, maxPixels int) (img image.Image, maxCoef int64, err error) {
	d := &lumaDecoder{full: true}
	if err := d.decode(b, maxPixels); err != nil {
		return nil, 0, err
	}
	img, err = d.picture()
	return img, d.frame.maxCoef, err
}

// RunCascadeBoth runs the face cascade over a grey picture with the
// detector's parameters both ways: pigo's RunCascade and runCascade.
func RunCascadeBoth(a *Analyzer, gray []uint8, w, h int) (pigoDets, ours []pigo.Detection) {
	short := min(w, h)
	cp := pigo.CascadeParams{
		MinSize: max(int(float64(short)*minFaceFrac), 24), MaxSize: short,
		ShiftFactor: detShift, ScaleFactor: detScale,
		ImageParams: pigo.ImageParams{Pixels: gray, Rows: h, Cols: w, Dim: w},
	}
	return a.cs.face.RunCascade(cp, 0), runCascade(a.cs.face, cp)
}
