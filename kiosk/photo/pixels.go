package photo

import (
	"fmt"
	"image"
	"image/color"
)

// pixels is the analysed picture, upright: a luma plane for the detector
// and the photometric measures, and colour sampled on demand from the
// source through the rotation (colour is only read on small areas). The
// source is a decoded image or the live decoder's frame, whose colour is
// one block mean per chroma block.
type pixels struct {
	w, h   int     // upright size
	gray   []uint8 // upright luma, row stride = stride
	stride int
	own    []uint8 // p's own luma buffer, for turned or converted pictures

	src    image.Image
	ycc    *image.YCbCr // fast path for colour, nil otherwise
	lf     *lumaFrame   // the live decoder's frame (block-mean chroma), nil otherwise
	rot    int          // clockwise quarter turns applied to src: 0..3
	sw, sh int          // source size
	sx, sy int          // source Bounds().Min
}

// load prepares p for img turned clockwise by rotation degrees (0, 90,
// 180, 270). It reuses p's luma buffer. An upright *image.YCbCr or
// *image.Gray is used in place, without copying.
func (p *pixels) load(img image.Image, rotation int) error {
	rot, err := quarterTurns(rotation)
	if err != nil {
		return err
	}
	b := img.Bounds()
	*p = pixels{own: p.own, src: img, rot: rot, sw: b.Dx(), sh: b.Dy(), sx: b.Min.X, sy: b.Min.Y}
	if p.sw <= 0 || p.sh <= 0 {
		return fmt.Errorf("empty picture %dx%d", p.sw, p.sh)
	}
	p.w, p.h = p.sw, p.sh
	if rot%2 == 1 {
		p.w, p.h = p.sh, p.sw
	}
	if m, ok := img.(*image.YCbCr); ok {
		p.ycc = m
	}
	if rot == 0 {
		switch m := img.(type) {
		case *image.YCbCr:
			p.gray, p.stride = m.Y[m.YOffset(b.Min.X, b.Min.Y):], m.YStride
			return nil
		case *image.Gray:
			p.gray, p.stride = m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride
			return nil
		}
	}
	p.useOwn()
	p.fillLuma()
	return nil
}

// loadFrame prepares p for the live decoder's frame f turned clockwise by
// rotation degrees. Upright, f's luma plane is used in place; p then reads
// f until the next load.
func (p *pixels) loadFrame(f *lumaFrame, rotation int) error {
	rot, err := quarterTurns(rotation)
	if err != nil {
		return err
	}
	*p = pixels{own: p.own, lf: f, rot: rot, sw: f.w, sh: f.h}
	p.w, p.h = p.sw, p.sh
	if rot%2 == 1 {
		p.w, p.h = p.sh, p.sw
	}
	if rot == 0 {
		p.gray, p.stride = f.y, f.ystride
		return nil
	}
	p.useOwn()
	turnPlane(p.gray, p.stride, f.y, f.ystride, f.w, f.h, rot)
	return nil
}

// useOwn points the luma plane at p's own buffer (never at a source's
// pixels: writing there would change the caller's picture).
func (p *pixels) useOwn() {
	n := p.w * p.h
	if cap(p.own) < n {
		p.own = make([]uint8, n)
	}
	p.gray, p.stride = p.own[:n], p.w
}

// turnPlane writes the source plane src (sw x sh, row stride ss) turned
// clockwise by rot quarter turns to dst (row stride ds), with toSource's
// mapping.
func turnPlane(dst []uint8, ds int, src []uint8, ss, sw, sh, rot int) {
	switch rot {
	case 1: // upright (u, v) from source (v, sh-1-u)
		for y := 0; y < sh; y++ {
			row, u := src[y*ss:y*ss+sw], sh-1-y
			for x, c := range row {
				dst[x*ds+u] = c
			}
		}
	case 2: // from (sw-1-u, sh-1-v)
		for v := 0; v < sh; v++ {
			row, out := src[(sh-1-v)*ss:(sh-1-v)*ss+sw], dst[v*ds:v*ds+sw]
			for u := range out {
				out[u] = row[sw-1-u]
			}
		}
	case 3: // from (sw-1-v, u)
		for y := 0; y < sh; y++ {
			row := src[y*ss : y*ss+sw]
			for x, c := range row {
				dst[(sw-1-x)*ds+y] = c
			}
		}
	default:
		for y := 0; y < sh; y++ {
			copy(dst[y*ds:y*ds+sw], src[y*ss:y*ss+sw])
		}
	}
}

func quarterTurns(rotation int) (int, error) {
	switch rotation {
	case 0, 90, 180, 270:
		return rotation / 90, nil
	}
	return 0, fmt.Errorf("rotation %d: want 0, 90, 180 or 270", rotation)
}

// toSource maps upright coordinates to source pixel coordinates.
func (p *pixels) toSource(u, v int) (x, y int) {
	switch p.rot {
	case 1: // source turned 90 clockwise: upright (u,v) came from (v, sh-1-u)
		return p.sx + v, p.sy + p.sh - 1 - u
	case 2:
		return p.sx + p.sw - 1 - u, p.sy + p.sh - 1 - v
	case 3:
		return p.sx + p.sw - 1 - v, p.sy + u
	}
	return p.sx + u, p.sy + v
}

// fillLuma writes the upright luma plane from the source (any rotation,
// any colour model). Common camera and file types have fast loops.
func (p *pixels) fillLuma() {
	switch m := p.src.(type) {
	case *image.YCbCr:
		turnPlane(p.gray, p.stride, m.Y[m.YOffset(p.sx, p.sy):], m.YStride, p.sw, p.sh, p.rot)
		return
	case *image.Gray:
		turnPlane(p.gray, p.stride, m.Pix[m.PixOffset(p.sx, p.sy):], m.Stride, p.sw, p.sh, p.rot)
		return
	case *image.NRGBA, *image.RGBA:
		var pix []uint8
		var off func(x, y int) int
		if n, ok := m.(*image.NRGBA); ok {
			pix, off = n.Pix, n.PixOffset
		} else {
			r := m.(*image.RGBA)
			pix, off = r.Pix, r.PixOffset
		}
		for v := 0; v < p.h; v++ {
			row := p.gray[v*p.stride : v*p.stride+p.w]
			for u := range row {
				x, y := p.toSource(u, v)
				i := off(x, y)
				row[u] = luma(pix[i], pix[i+1], pix[i+2])
			}
		}
		return
	}
	// Any other model (CMYK, 16-bit, paletted): slow but correct.
	for v := 0; v < p.h; v++ {
		row := p.gray[v*p.stride : v*p.stride+p.w]
		for u := range row {
			x, y := p.toSource(u, v)
			row[u] = color.GrayModel.Convert(p.src.At(x, y)).(color.Gray).Y
		}
	}
}

// plane returns the upright luma plane for the cascades.
func (p *pixels) plane() plane {
	return plane{pix: p.gray, stride: p.stride, w: p.w, h: p.h}
}

// luma is the BT.601 luma of an sRGB colour, as JPEG's Y.
func luma(r, g, b uint8) uint8 {
	return uint8((19595*uint32(r) + 38470*uint32(g) + 7471*uint32(b) + 1<<15) >> 16)
}

// y returns the luma at upright (u, v), clamped to the picture.
func (p *pixels) y(u, v int) uint8 {
	u = clampInt(u, 0, p.w-1)
	v = clampInt(v, 0, p.h-1)
	return p.gray[v*p.stride+u]
}

// rgb returns the sRGB colour at upright (u, v), clamped to the picture.
func (p *pixels) rgb(u, v int) (r, g, b uint8) {
	u = clampInt(u, 0, p.w-1)
	v = clampInt(v, 0, p.h-1)
	x, y := p.toSource(u, v)
	if f := p.lf; f != nil {
		yy, cb, cr := f.at(x, y)
		if f.gray {
			return yy, yy, yy
		}
		return color.YCbCrToRGB(yy, cb, cr)
	}
	if m := p.ycc; m != nil {
		yi := m.YOffset(x, y)
		ci := m.COffset(x, y)
		return color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
	}
	switch m := p.src.(type) {
	case *image.NRGBA:
		i := m.PixOffset(x, y)
		return m.Pix[i], m.Pix[i+1], m.Pix[i+2]
	case *image.RGBA:
		i := m.PixOffset(x, y)
		return m.Pix[i], m.Pix[i+1], m.Pix[i+2]
	case *image.Gray:
		g := m.Pix[m.PixOffset(x, y)]
		return g, g, g
	}
	c := color.RGBAModel.Convert(p.src.At(x, y)).(color.RGBA)
	return c.R, c.G, c.B
}

func clampInt(v, lo, hi int) int {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

func clampF(v, lo, hi float64) float64 {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}
