package demo

import (
	"bytes"
	"image"
	"image/jpeg"
	"math"
)

// The booth wall: an even off-white, a little darker towards the corners
// (lens vignetting: 7 % at the corners).
var wall = [3]float64{222, 223, 219}

const vignette = 0.036 // corners are exp(-2*vignette) as bright as the centre

// renderer draws frames of the scene. It is not safe for concurrent use:
// its canvas and buffer are reused from frame to frame.
type renderer struct {
	head       *image.RGBA // premultiplied, portrait pixels
	body       *image.RGBA // premultiplied, frame pixels
	bodyAnchor image.Point // body pixel on the base of the neck

	canvas     *image.RGBA
	colF, rowF []float64 // the vignette, separable
	buf        bytes.Buffer
}

func newRenderer(head, body *image.RGBA, bodyAnchor image.Point) *renderer {
	r := &renderer{
		head:       head,
		body:       body,
		bodyAnchor: bodyAnchor,
		canvas:     image.NewRGBA(image.Rect(0, 0, Width, Height)),
		colF:       make([]float64, Width),
		rowF:       make([]float64, Height),
	}
	for x := range r.colF {
		d := (float64(x) - Width/2) / (Width / 2)
		r.colF[x] = math.Exp(-vignette * d * d)
	}
	for y := range r.rowF {
		d := (float64(y) - Height/2) / (Height / 2)
		r.rowF[y] = math.Exp(-vignette * d * d)
	}
	return r
}

// render draws pose p with the sensor noise of the given variant and
// returns the frame encoded as a baseline JPEG. The bytes are new.
func (r *renderer) render(p pose, variant int) ([]byte, error) {
	r.drawWall()
	if p.present {
		neck := neckAt(p)
		r.drawBody(image.Pt(int(math.Round(neck.X)), int(math.Round(neck.Y))))
		r.drawHead(headTransform(p))
	}
	addNoise(r.canvas.Pix, noiseSeed+uint64(variant))
	r.buf.Reset()
	if err := jpeg.Encode(&r.buf, r.canvas, &jpeg.Options{Quality: Quality}); err != nil {
		return nil, err
	}
	return bytes.Clone(r.buf.Bytes()), nil
}

func (r *renderer) drawWall() {
	pix, stride := r.canvas.Pix, r.canvas.Stride
	for y := range Height {
		row := pix[y*stride : y*stride+4*Width]
		for x := range Width {
			f := r.rowF[y] * r.colF[x]
			row[4*x] = uint8(wall[0]*f + 0.5)
			row[4*x+1] = uint8(wall[1]*f + 0.5)
			row[4*x+2] = uint8(wall[2]*f + 0.5)
			row[4*x+3] = 0xff
		}
	}
}

// drawBody composites the body sprite with its anchor on neck.
func (r *renderer) drawBody(neck image.Point) {
	off := neck.Sub(r.bodyAnchor)
	dst := r.body.Rect.Add(off).Intersect(r.canvas.Rect)
	for y := dst.Min.Y; y < dst.Max.Y; y++ {
		for x := dst.Min.X; x < dst.Max.X; x++ {
			s := r.body.PixOffset(x-off.X, y-off.Y)
			over(r.canvas.Pix[r.canvas.PixOffset(x, y):], r.body.Pix[s:s+4])
		}
	}
}

// drawHead composites the head sprite as placed by m (portrait pixels to
// frame pixels), sampling it bilinearly. Pixel (x, y) is centred on the
// point (x, y) in both spaces.
func (r *renderer) drawHead(m affine) {
	sw, sh := r.head.Rect.Dx(), r.head.Rect.Dy()
	minX, minY := math.Inf(1), math.Inf(1)
	maxX, maxY := math.Inf(-1), math.Inf(-1)
	for _, c := range []Point{{-1, -1}, {float64(sw), -1}, {-1, float64(sh)}, {float64(sw), float64(sh)}} {
		q := m.apply(c)
		minX, maxX = math.Min(minX, q.X), math.Max(maxX, q.X)
		minY, maxY = math.Min(minY, q.Y), math.Max(maxY, q.Y)
	}
	dst := image.Rect(int(math.Floor(minX)), int(math.Floor(minY)), int(math.Ceil(maxX))+1, int(math.Ceil(maxY))+1).
		Intersect(r.canvas.Rect)
	inv := m.inverse()
	var px [4]uint8
	for y := dst.Min.Y; y < dst.Max.Y; y++ {
		for x := dst.Min.X; x < dst.Max.X; x++ {
			u := inv.a*float64(x) + inv.b*float64(y) + inv.tx
			v := inv.c*float64(x) + inv.d*float64(y) + inv.ty
			if !r.sampleHead(u, v, &px) {
				continue
			}
			over(r.canvas.Pix[r.canvas.PixOffset(x, y):], px[:])
		}
	}
}

// sampleHead interpolates the head sprite at (u, v); it reports false
// where the sprite is transparent there.
func (r *renderer) sampleHead(u, v float64, out *[4]uint8) bool {
	fu, fv := math.Floor(u), math.Floor(v)
	iu, iv := int(fu), int(fv)
	w, h := r.head.Rect.Dx(), r.head.Rect.Dy()
	if iu < -1 || iv < -1 || iu >= w || iv >= h {
		return false
	}
	wu, wv := u-fu, v-fv
	var acc [4]float64
	for dy := range 2 {
		for dx := range 2 {
			x, y := iu+dx, iv+dy
			if x < 0 || y < 0 || x >= w || y >= h {
				continue
			}
			k := (1 - wu) * (1 - wv)
			switch {
			case dx == 1 && dy == 0:
				k = wu * (1 - wv)
			case dx == 0 && dy == 1:
				k = (1 - wu) * wv
			case dx == 1 && dy == 1:
				k = wu * wv
			}
			p := r.head.Pix[y*r.head.Stride+4*x:]
			acc[0] += k * float64(p[0])
			acc[1] += k * float64(p[1])
			acc[2] += k * float64(p[2])
			acc[3] += k * float64(p[3])
		}
	}
	if acc[3] < 0.5 {
		return false
	}
	for i := range out {
		out[i] = uint8(acc[i] + 0.5)
	}
	return true
}

// over composites the premultiplied pixel src over the opaque pixel dst.
func over(dst, src []uint8) {
	a := uint32(src[3])
	if a == 0 {
		return
	}
	t := 255 - a
	dst[0] = uint8(uint32(src[0]) + (uint32(dst[0])*t+127)/255)
	dst[1] = uint8(uint32(src[1]) + (uint32(dst[1])*t+127)/255)
	dst[2] = uint8(uint32(src[2]) + (uint32(dst[2])*t+127)/255)
}

// noiseSeed makes the sensor noise the same on every run.
const noiseSeed = 0x6b696f736b64

// addNoise adds a little grain to every pixel, the same to its three
// channels (sensor noise is mostly in the luminance): a triangular
// distribution over -3..3, standard deviation 1.6. It is a function of
// seed alone.
func addNoise(pix []uint8, seed uint64) {
	state := seed
	var bits uint64
	for i := 0; i+3 < len(pix); i += 4 {
		if i%64 == 0 {
			bits = splitmix64(&state) // 16 pixels' worth
		}
		n := int(bits&3) + int(bits>>2&3) - 3
		bits >>= 4
		for k := range 3 {
			pix[i+k] = uint8(min(255, max(0, int(pix[i+k])+n)))
		}
	}
}

// splitmix64 is the SplitMix64 generator (Steele, Lea and Flood, 2014):
// fixed here so that the noise never changes with the standard library.
func splitmix64(state *uint64) uint64 {
	*state += 0x9e3779b97f4a7c15
	z := *state
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}
