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
// their fn returns; parallelRows waits for them, and raises a panic of
// theirs (see group).
func parallelRows(n int, fn func(y0, y1 int)) {
	workers := min(runtime.GOMAXPROCS(0), 4, max(n/32, 1))
	if workers <= 1 {
		fn(0, n)
		return
	}
	var g group
	step := (n + workers - 1) / workers
	for y0 := 0; y0 < n; y0 += step {
		y1 := min(y0+step, n)
		g.start(func() { fn(y0, y1) })
	}
	g.wait()
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
// frame (above a 4x reduction, k x k block means taken while reading feed
// that pass, k = half the reduction). Only the window and the kernel's
// reach are read. The window must be inside the upright frame (the planner
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
	sc := renderPool.Get().(*renderScratch)
	defer renderPool.Put(sc)
	readRow := rowReader(img, turns, x0, y0, rw)
	// A strong reduction (a 12 MP still) averages k x k blocks as it
	// reads, so that the Lanczos kernel still spans at least 2 region
	// pixels per output pixel but reads k^2 times fewer: the box adds a
	// blur of a sixth of an output pixel at most.
	if k := int(1 / max(sx, 1e-9) / 2); k >= 2 {
		var roi []uint8
		roi, rw, rh = readReduced(readRow, rw, rh, k, &sc.roi)
		// Region coordinates: the reduced pixel j spans [j*k, (j+1)*k).
		tx = makeTaps((crop.X-float64(x0))/float64(k), sx*float64(k), w, rw)
		ty = makeTaps((crop.Y-float64(y0))/float64(k), sy*float64(k), h, rh)
		x0, y0 = 0, 0
		readRow = func(v int, dst []uint8) { copy(dst, roi[3*v*rw:3*(v+1)*rw]) }
	}
	// Horizontal pass: every region row, read as it is needed, to w
	// columns.
	tmp := growF32(&sc.tmp, 3*w*rh) // every value is written
	parallelRows(rh, func(v0, v1 int) {
		row := make([]uint8, 3*rw)
		// The row as floats, one plane per channel, converted once.
		planes := make([]float32, 3*rw)
		pr, pg, pb := planes[:rw], planes[rw:2*rw], planes[2*rw:]
		for v := v0; v < v1; v++ {
			readRow(v, row)
			for x := range pr {
				p := row[3*x : 3*x+3 : 3*x+3]
				pr[x], pg[x], pb[x] = float32(p[0]), float32(p[1]), float32(p[2])
			}
			dst := tmp[3*v*w : 3*(v+1)*w]
			o := 0
			// Two outputs at a time: six independent sums, each added in
			// the same order as alone, so the values are the same.
			for ; o+1 < w; o += 2 {
				b0, b1 := tx.first[o]-x0, tx.first[o+1]-x0
				n := tx.n
				if b0+n > rw || b1+n > rw {
					break // the right edge: one at a time
				}
				w0 := tx.w[o*n : (o+1)*n]
				w1 := tx.w[(o+1)*n : (o+2)*n][:len(w0)]
				r0, g0, c0 := pr[b0 : b0+n][:len(w0)], pg[b0 : b0+n][:len(w0)], pb[b0 : b0+n][:len(w0)]
				r1, g1, c1 := pr[b1 : b1+n][:len(w0)], pg[b1 : b1+n][:len(w0)], pb[b1 : b1+n][:len(w0)]
				var sr0, sg0, sb0, sr1, sg1, sb1 float32
				for k, wk := range w0 {
					wl := w1[k]
					sr0 += wk * r0[k]
					sg0 += wk * g0[k]
					sb0 += wk * c0[k]
					sr1 += wl * r1[k]
					sg1 += wl * g1[k]
					sb1 += wl * c1[k]
				}
				d := dst[3*o : 3*o+6 : 3*o+6]
				d[0], d[1], d[2], d[3], d[4], d[5] = sr0, sg0, sb0, sr1, sg1, sb1
			}
			for ; o < w; o++ {
				base := tx.first[o] - x0
				ws := tx.w[o*tx.n : (o+1)*tx.n]
				ws = ws[:min(len(ws), rw-base)]
				r0, g0, c0 := pr[base:base+len(ws)], pg[base:base+len(ws)], pb[base:base+len(ws)]
				var r, g, bl float32
				for k, wk := range ws {
					r += wk * r0[k]
					g += wk * g0[k]
					bl += wk * c0[k]
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
			var rows [][]float32
			var wts []float32
			for k, wk := range ws {
				if v := base + k; v < rh && wk != 0 {
					rows = append(rows, tmp[3*v*w : 3*(v+1)*w][:len(dst)])
					wts = append(wts, wk)
				}
			}
			// Four rows, or two, at a time: each value gets the same
			// additions in the same order as row by row, with a quarter
			// (a half) of the loads and stores of the sums.
			k := 0
			for ; k+3 < len(rows); k += 4 {
				a := rows[k]
				b, c, e := rows[k+1][:len(a)], rows[k+2][:len(a)], rows[k+3][:len(a)]
				wa, wb, wc, we := wts[k], wts[k+1], wts[k+2], wts[k+3]
				dd := dst[:len(a)]
				for i, s := range a {
					d := dd[i]
					d += wa * s
					d += wb * b[i]
					d += wc * c[i]
					d += we * e[i]
					dd[i] = d
				}
			}
			for ; k+1 < len(rows); k += 2 {
				a, b := rows[k], rows[k+1][:len(rows[k])]
				wa, wb := wts[k], wts[k+1]
				for i, s := range a {
					d := dst[i]
					d += wa * s
					d += wb * b[i]
					dst[i] = d
				}
			}
			if k < len(rows) {
				wk := wts[k]
				for i, s := range rows[k] {
					dst[i] += wk * s
				}
			}
			for i, v := range dst {
				dst[i] = min(max(v, 0), 255)
			}
		}
	})
	return out, nil
}

// renderScratch holds renderCrop's horizontally resampled rows (a 1080p
// crop: about 6 MB) and, for a strong reduction, the block-averaged
// region, between photos.
type renderScratch struct {
	roi []uint8
	tmp []float32
}

var renderPool = sync.Pool{New: func() any { return new(renderScratch) }}

func growF32(buf *[]float32, n int) []float32 {
	if cap(*buf) < n {
		*buf = make([]float32, n)
	}
	return (*buf)[:n]
}

// readReduced reads the region (rw x rh, through readRow) averaging k x k
// blocks into a byte picture; the blocks at the right and bottom edges
// average the pixels they hold.
func readReduced(readRow func(v int, dst []uint8), rw, rh, k int, buf *[]uint8) ([]uint8, int, int) {
	ow, oh := (rw+k-1)/k, (rh+k-1)/k
	dst := growU8(buf, 3*ow*oh)
	parallelRows(oh, func(j0, j1 int) {
		row := make([]uint8, 3*rw)
		acc := make([]uint32, 3*ow)
		for j := j0; j < j1; j++ {
			clear(acc)
			y1 := min((j+1)*k, rh)
			for y := j * k; y < y1; y++ {
				readRow(y, row)
				o, n := 0, 0 // output column, pixels of the block so far
				for x := 0; x < rw; x++ {
					acc[3*o] += uint32(row[3*x])
					acc[3*o+1] += uint32(row[3*x+1])
					acc[3*o+2] += uint32(row[3*x+2])
					if n++; n == k {
						o, n = o+1, 0
					}
				}
			}
			out := dst[3*j*ow : 3*(j+1)*ow]
			rows := uint32(y1 - j*k)
			for o := 0; o < ow; o++ {
				cnt := rows * uint32(min(k, rw-o*k))
				for c := 0; c < 3; c++ {
					out[3*o+c] = uint8((acc[3*o+c] + cnt/2) / cnt)
				}
			}
		}
	})
	return dst, ow, oh
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

// rowReader returns a function that copies row v of the upright region
// [x0, x0+rw) x [y0, ...) of img (turned by turns quarter turns) into dst
// as sRGB bytes; it may be called from several goroutines. An upright
// *image.YCbCr (what Decode gives for a JPEG) is converted without a call
// per pixel.
func rowReader(img image.Image, turns, x0, y0, rw int) func(v int, dst []uint8) {
	b := img.Bounds()
	if m, ok := img.(*image.YCbCr); ok && turns == 0 && b.Min.X >= 0 {
		hs := 0 // horizontal chroma subsampling, as a shift
		switch m.SubsampleRatio {
		case image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420:
			hs = 1
		case image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410:
			hs = 2
		}
		return func(v int, dst []uint8) {
			y, xs := b.Min.Y+y0+v, b.Min.X+x0
			yi := m.YOffset(xs, y)
			ys := m.Y[yi : yi+rw]
			row := dst[:3*rw]
			c0 := m.COffset(xs, y) - xs>>hs
			for u, yv := range ys {
				ci := c0 + (xs+u)>>hs
				// The JFIF conversion in 16.16 fixed point, the same
				// arithmetic as color.YCbCrToRGB (the same bytes).
				yy := int32(yv) * 0x10101
				cb, cr := int32(m.Cb[ci])-128, int32(m.Cr[ci])-128
				p := row[3*u : 3*u+3 : 3*u+3]
				p[0] = clip16(yy + 91881*cr)
				p[1] = clip16(yy - 22554*cb - 46802*cr)
				p[2] = clip16(yy + 116130*cb)
			}
		}
	}
	read := readerFor(img)
	sw, sh := b.Dx(), b.Dy()
	return func(v int, dst []uint8) {
		for u := 0; u < rw; u++ {
			x, y := uprightToSource(u+x0, v+y0, turns, sw, sh)
			dst[3*u], dst[3*u+1], dst[3*u+2] = read(b.Min.X+x, b.Min.Y+y)
		}
	}
}

// clip16 takes the byte of a 16.16 fixed-point value, clamped to 0..255.
func clip16(v int32) uint8 {
	if uint32(v)&0xff000000 == 0 {
		return uint8(v >> 16)
	}
	return uint8(^(v >> 31))
}
