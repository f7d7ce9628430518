package photo

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"runtime"
	"sync"
)

// rgbPlane is a working picture: float RGB, channels interleaved, values
// 0..255, no alpha.
type rgbPlane struct {
	w, h int
	pix  []float32 // len 3*w*h
}

func newRGBPlane(w, h int) *rgbPlane { return &rgbPlane{w: w, h: h, pix: make([]float32, 3*w*h)} }

func (p *rgbPlane) at(x, y int) (r, g, b float32) {
	i := 3 * (y*p.w + x)
	return p.pix[i], p.pix[i+1], p.pix[i+2]
}

// toRGBA rounds p into an opaque *image.RGBA, the type image/jpeg encodes
// fastest.
func (p *rgbPlane) toRGBA() *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, p.w, p.h))
	for i, j := 0, 0; i < len(p.pix); i, j = i+3, j+4 {
		out.Pix[j] = q8(p.pix[i])
		out.Pix[j+1] = q8(p.pix[i+1])
		out.Pix[j+2] = q8(p.pix[i+2])
		out.Pix[j+3] = 255
	}
	return out
}

// q8 rounds a 0..255 float to a byte, clamping.
func q8(v float32) uint8 {
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v + 0.5)
}

// lanczos3 is the Lanczos kernel with three lobes.
func lanczos3(t float64) float64 {
	t = math.Abs(t)
	switch {
	case t < 1e-9:
		return 1
	case t >= 3:
		return 0
	}
	pt := math.Pi * t
	return 3 * math.Sin(pt) * math.Sin(pt/3) / (pt * pt)
}

// taps are the resampling weights along one axis: output index o reads
// source indices first[o] .. first[o]+n-1 with weights w[o*n:(o+1)*n].
type taps struct {
	n     int
	first []int
	w     []float32
}

// makeTaps computes Lanczos-3 weights for out output samples covering the
// source interval [start, start+out/scale) of a source with size pixels.
// For minification the kernel is widened by 1/scale (antialiasing). Taps
// outside the source are folded onto the edge pixel; they only occur
// within the kernel's reach of a window edge that lies inside the frame.
func makeTaps(start, scale float64, out, size int) taps {
	f := max(1, 1/scale)
	support := 3 * f
	n := int(math.Ceil(2*support)) + 1
	t := taps{n: n, first: make([]int, out), w: make([]float32, out*n)}
	ws := make([]float64, n)
	for o := 0; o < out; o++ {
		c := start + (float64(o)+0.5)/scale - 0.5 // source index coordinate
		first := int(math.Floor(c - support + 1))
		var sum float64
		for k := 0; k < n; k++ {
			ws[k] = lanczos3((float64(first+k) - c) / f)
			sum += ws[k]
		}
		// Fold taps outside [0, size) onto the edges and shift the window
		// inside, so every read is in range.
		lo := clampInt(first, 0, max(size-n, 0))
		row := t.w[o*n : (o+1)*n]
		for k := 0; k < n; k++ {
			src := clampInt(first+k, 0, size-1)
			j := clampInt(src-lo, 0, n-1)
			row[j] += float32(ws[k] / sum)
		}
		t.first[o] = lo
	}
	return t
}

// parallelRows runs fn over [0, n) split into one range per CPU (at most
// four) and returns when every range is done. The goroutines exit when
// their fn returns; parallelRows waits for them.
func parallelRows(n int, fn func(y0, y1 int)) {
	workers := min(runtime.GOMAXPROCS(0), 4, max(n/32, 1))
	if workers <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	step := (n + workers - 1) / workers
	for y0 := 0; y0 < n; y0 += step {
		wg.Add(1)
		go func(y0, y1 int) {
			defer wg.Done()
			fn(y0, y1)
		}(y0, min(y0+step, n))
	}
	wg.Wait()
}

// sourceReader reads sRGB pixels of an image by source coordinates.
type sourceReader func(x, y int) (r, g, b uint8)

func readerFor(img image.Image) sourceReader {
	switch m := img.(type) {
	case *image.YCbCr:
		return func(x, y int) (uint8, uint8, uint8) {
			return color.YCbCrToRGB(m.Y[m.YOffset(x, y)], m.Cb[m.COffset(x, y)], m.Cr[m.COffset(x, y)])
		}
	case *image.NRGBA: // frames are opaque; alpha is ignored
		return func(x, y int) (uint8, uint8, uint8) {
			i := m.PixOffset(x, y)
			return m.Pix[i], m.Pix[i+1], m.Pix[i+2]
		}
	case *image.RGBA:
		return func(x, y int) (uint8, uint8, uint8) {
			i := m.PixOffset(x, y)
			return m.Pix[i], m.Pix[i+1], m.Pix[i+2]
		}
	case *image.Gray:
		return func(x, y int) (uint8, uint8, uint8) {
			v := m.Pix[m.PixOffset(x, y)]
			return v, v, v
		}
	}
	return func(x, y int) (uint8, uint8, uint8) {
		c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
		return c.R, c.G, c.B
	}
}

// uprightSize is the picture's size after turning it clockwise by
// rotation degrees (0, 90, 180, 270).
func uprightSize(img image.Image, rotation int) (w, h, turns int, err error) {
	turns, err = quarterTurns(rotation)
	if err != nil {
		return 0, 0, 0, err
	}
	b := img.Bounds()
	w, h = b.Dx(), b.Dy()
	if turns%2 == 1 {
		w, h = h, w
	}
	return w, h, turns, nil
}

// renderCrop resamples the crop window of img, turned upright by rotation
// (a lossless quarter-turn transpose), to a w x h picture: crop and
// isotropic scale in one separable Lanczos-3 pass from the full-resolution
// frame. The window must be inside the upright frame (the planner
// guarantees it); the kernel's reach beyond a window edge is clamped to
// the frame, never padded.
func renderCrop(img image.Image, rotation int, crop Rect, w, h int) (*rgbPlane, error) {
	fw, fh, turns, err := uprightSize(img, rotation)
	if err != nil {
		return nil, err
	}
	if crop.W <= 0 || crop.H <= 0 || crop.X < -0.5 || crop.Y < -0.5 ||
		crop.X+crop.W > float64(fw)+0.5 || crop.Y+crop.H > float64(fh)+0.5 {
		return nil, fmt.Errorf("render: crop window %+v outside the %dx%d frame", crop, fw, fh)
	}
	sx, sy := float64(w)/crop.W, float64(h)/crop.H
	if math.Abs(sx-sy) > 1e-6*max(sx, sy) {
		return nil, fmt.Errorf("render: crop window %.2fx%.2f is not the output's aspect %dx%d", crop.W, crop.H, w, h)
	}
	tx := makeTaps(crop.X, sx, w, fw)
	ty := makeTaps(crop.Y, sy, h, fh)
	// The source region the taps read, in upright coordinates.
	x0, x1 := tx.first[0], tx.first[w-1]+tx.n
	y0, y1 := ty.first[0], ty.first[h-1]+ty.n
	x1, y1 = min(x1, fw), min(y1, fh)
	rw, rh := x1-x0, y1-y0
	roi := make([]uint8, 3*rw*rh)
	read := readerFor(img)
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	parallelRows(rh, func(v0, v1 int) {
		for v := v0; v < v1; v++ {
			row := roi[3*v*rw : 3*(v+1)*rw]
			for u := 0; u < rw; u++ {
				x, y := uprightToSource(u+x0, v+y0, turns, sw, sh)
				row[3*u], row[3*u+1], row[3*u+2] = read(b.Min.X+x, b.Min.Y+y)
			}
		}
	})
	// Horizontal pass: every region row to w columns.
	tmp := make([]float32, 3*w*rh)
	parallelRows(rh, func(v0, v1 int) {
		for v := v0; v < v1; v++ {
			src := roi[3*v*rw : 3*(v+1)*rw]
			dst := tmp[3*v*w : 3*(v+1)*w]
			for o := 0; o < w; o++ {
				base := tx.first[o] - x0
				ws := tx.w[o*tx.n : (o+1)*tx.n]
				var r, g, bl float32
				for k, wk := range ws {
					i := base + k
					if i >= rw {
						break
					}
					r += wk * float32(src[3*i])
					g += wk * float32(src[3*i+1])
					bl += wk * float32(src[3*i+2])
				}
				dst[3*o], dst[3*o+1], dst[3*o+2] = r, g, bl
			}
		}
	})
	// Vertical pass: h output rows.
	out := newRGBPlane(w, h)
	parallelRows(h, func(o0, o1 int) {
		for o := o0; o < o1; o++ {
			base := ty.first[o] - y0
			ws := ty.w[o*ty.n : (o+1)*ty.n]
			dst := out.pix[3*o*w : 3*(o+1)*w]
			for k, wk := range ws {
				v := base + k
				if v >= rh || wk == 0 {
					continue
				}
				src := tmp[3*v*w : 3*(v+1)*w]
				for i := range dst {
					dst[i] += wk * src[i]
				}
			}
			for i, v := range dst {
				dst[i] = min(max(v, 0), 255)
			}
		}
	})
	return out, nil
}

// uprightToSource maps upright coordinates to source pixel coordinates
// (relative to the source's Bounds().Min) for a picture that must be
// turned clockwise by turns quarter turns to stand upright.
func uprightToSource(u, v, turns, sw, sh int) (x, y int) {
	switch turns {
	case 1:
		return v, sh - 1 - u
	case 2:
		return sw - 1 - u, sh - 1 - v
	case 3:
		return sw - 1 - v, u
	}
	return u, v
}
