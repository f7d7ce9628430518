package photo_test

// Composition of booth-like frames from the fixture portraits, with known
// ground truth. The portrait's head is matted from its light wall, scaled,
// turned and placed on a wall; a neck and a shirt extend it below the chin;
// then the scene's defects are applied.

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"kioskd/kiosk/photo"
)

// portrait is a fixture with its matte and pinned landmarks (portrait
// pixels). The pupils were measured once with pigo's pupil detector on the
// fixture and checked on a rendered overlay.
type portrait struct {
	img   *image.NRGBA
	alpha []float32
	eyeL  photo.Point // image-left pupil
	eyeR  photo.Point
	lip   photo.Point // centre of the lip line
	cutY  float64     // rows below are replaced by the synthetic neck and shirt
	chinY float64
	skin  color.NRGBA
}

func (p *portrait) ipd() float64 { return math.Hypot(p.eyeR.X-p.eyeL.X, p.eyeR.Y-p.eyeL.Y) }
func (p *portrait) eyeMid() photo.Point {
	return photo.Point{X: (p.eyeL.X + p.eyeR.X) / 2, Y: (p.eyeL.Y + p.eyeR.Y) / 2}
}

var (
	fixtureOnce sync.Once
	sample      *portrait
	astronaut   *image.NRGBA
	fixtureErr  error
)

// fixtures loads and mattes the portraits once per test binary.
func fixtures(tb testing.TB) (*portrait, *image.NRGBA) {
	tb.Helper()
	fixtureOnce.Do(func() {
		var img image.Image
		img, fixtureErr = loadImage(filepath.Join("testdata", "pigo-sample.jpg"))
		if fixtureErr != nil {
			return
		}
		sample = &portrait{
			img:   toNRGBA(img),
			eyeL:  photo.Point{X: 113, Y: 185},
			eyeR:  photo.Point{X: 205, Y: 183},
			lip:   photo.Point{X: 160, Y: 281},
			cutY:  322,
			chinY: 345,
			skin:  color.NRGBA{R: 214, G: 160, B: 138, A: 255},
		}
		sample.alpha = matte(sample.img, int(sample.cutY))
		// The fixture is lit from image-right (cheeks differ by 9 %):
		// flatten that, so that the good frame is evenly lit.
		flatten(sample.img, sample.eyeMid().X, 0.2/(2.2*sample.ipd()))
		var a image.Image
		a, fixtureErr = loadImage(filepath.Join("testdata", "astronaut.png"))
		if fixtureErr == nil {
			astronaut = toNRGBA(a)
		}
	})
	if fixtureErr != nil {
		tb.Fatalf("load fixtures: %v", fixtureErr)
	}
	return sample, astronaut
}

func loadImage(path string) (image.Image, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	return img, err
}

func toNRGBA(img image.Image) *image.NRGBA {
	b := img.Bounds()
	out := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			out.Set(x, y, img.At(b.Min.X+x, b.Min.Y+y))
		}
	}
	return out
}

// matte separates the person from the portrait's light wall: distance from
// the wall colour, then each row filled between its outermost person pixels.
func matte(img *image.NRGBA, rows int) []float32 {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	var wall [3]float64
	n := 0
	for y := 0; y < 12; y++ {
		for _, x := range []int{2, 5, 8, w - 9, w - 6, w - 3} {
			i := img.PixOffset(x, y)
			for c := 0; c < 3; c++ {
				wall[c] += float64(img.Pix[i+c])
			}
			n++
		}
	}
	for c := range wall {
		wall[c] /= float64(n)
	}
	a := make([]float32, w*h)
	for y := 0; y < min(rows, h); y++ {
		first, last := -1, -1
		for x := 0; x < w; x++ {
			i := img.PixOffset(x, y)
			d := 0.0
			for c := 0; c < 3; c++ {
				d = max(d, math.Abs(float64(img.Pix[i+c])-wall[c]))
			}
			v := float32(clamp01((d - 12) / 30))
			a[y*w+x] = v
			if v > 0.5 {
				if first < 0 {
					first = x
				}
				last = x
			}
		}
		for x := first + 1; x < last; x++ {
			a[y*w+x] = 1
		}
	}
	return a
}

// flatten multiplies each column by 1 - k*(x - cx).
func flatten(img *image.NRGBA, cx, k float64) {
	for y := 0; y < img.Rect.Dy(); y++ {
		for x := 0; x < img.Rect.Dx(); x++ {
			f := 1 - k*(float64(x)-cx)
			i := img.PixOffset(x, y)
			for c := 0; c < 3; c++ {
				img.Pix[i+c] = uint8(max(0, min(255, math.Round(float64(img.Pix[i+c])*f))))
			}
		}
	}
}

// roll is the portrait's own head roll, which the scene undoes.
func (p *portrait) roll() float64 {
	return math.Atan2(p.eyeR.Y-p.eyeL.Y, p.eyeR.X-p.eyeL.X) * 180 / math.Pi
}

func clamp01(v float64) float64 { return max(0, min(1, v)) }

// scene describes a composed frame. Zero values mean "none".
type scene struct {
	W, H int
	Wall color.NRGBA
	// IPD, EyeX, EyeY place the head: pupil distance and eye midpoint in
	// frame pixels. Roll turns it about the eye midpoint (degrees,
	// positive clockwise as displayed: the image-right eye goes down).
	IPD, EyeX, EyeY, Roll float64
	Shirt                 color.NRGBA
	Gain                  float64 // exposure multiplier on the whole frame; 0 means 1
	SideLight             float64 // person luma x (1 + SideLight*(x-eyeX)/faceWidth)
	Blur                  float64 // Gaussian sigma, in IPD units
	Motion                float64 // horizontal motion blur length, in IPD units
	Noise                 float64 // sensor noise sigma (0..255)
	Seed                  uint64
	Busy                  bool    // objects and patterns on the wall
	Shadow                float64 // depth (0..1) of the head's shadow on the wall, to image-right
	Second                bool    // a second person's face beside the student
	EyesClosed            bool
	MouthOpen             bool
	NoseShift             photo.Point // nose tip moved, IPD units (synthetic yaw/pitch)
	NoFace                bool        // empty booth
}

// truth is the ground truth of a composed frame.
type truth struct {
	eyeL, eyeR photo.Point
	ipd        float64
	crownY     float64 // top of the hair
}

// goodScene returns a well-set-up 1280x720 booth frame.
func goodScene() scene {
	return scene{
		W: 1280, H: 720, Wall: color.NRGBA{236, 236, 232, 255},
		IPD: 105, EyeX: 640, EyeY: 286,
		Shirt: color.NRGBA{60, 60, 68, 255}, Noise: 2, Seed: 1,
	}
}

func (s scene) truth(p *portrait) truth {
	k := s.IPD / p.ipd()
	th := (s.Roll - p.roll()) * math.Pi / 180
	rot := func(q photo.Point) photo.Point {
		m := p.eyeMid()
		dx, dy := (q.X-m.X)*k, (q.Y-m.Y)*k
		return photo.Point{X: s.EyeX + dx*math.Cos(th) - dy*math.Sin(th), Y: s.EyeY + dx*math.Sin(th) + dy*math.Cos(th)}
	}
	return truth{eyeL: rot(p.eyeL), eyeR: rot(p.eyeR), ipd: s.IPD, crownY: rot(photo.Point{X: 160, Y: 12}).Y}
}

// render draws the scene as an NRGBA frame.
func (s scene) render(p *portrait, second *image.NRGBA) *image.NRGBA {
	rng := rand.New(rand.NewPCG(s.Seed, 7))
	out := image.NewNRGBA(image.Rect(0, 0, s.W, s.H))
	k := s.IPD / p.ipd()
	th := (s.Roll - p.roll()) * math.Pi / 180
	cos, sin := math.Cos(th), math.Sin(th)
	m := p.eyeMid()
	pw, ph := p.img.Rect.Dx(), p.img.Rect.Dy()
	faceW := 2.2 * s.IPD
	// Wall, with busy objects and the shadow.
	var blobs []blob
	if s.Busy {
		for i := 0; i < 40; i++ {
			blobs = append(blobs, blob{
				x: rng.Float64() * float64(s.W), y: rng.Float64() * float64(s.H),
				w: 20 + rng.Float64()*120, h: 20 + rng.Float64()*160,
				c: [3]float64{rng.Float64() * 255, rng.Float64() * 255, rng.Float64() * 255},
			})
		}
	}
	// toPortrait maps frame coordinates to portrait coordinates.
	toPortrait := func(x, y float64) (float64, float64) {
		dx, dy := x-s.EyeX, y-s.EyeY
		u := (dx*cos + dy*sin) / k
		v := (-dx*sin + dy*cos) / k
		return m.X + u, m.Y + v
	}
	mouth := p.lip
	for y := 0; y < s.H; y++ {
		for x := 0; x < s.W; x++ {
			c := [3]float64{float64(s.Wall.R), float64(s.Wall.G), float64(s.Wall.B)}
			// a gentle light falloff on the wall, as in a real booth
			fall := 1 - 0.02*math.Abs(float64(x)-float64(s.W)/2)/float64(s.W)
			for i := range c {
				c[i] *= fall
			}
			for _, b := range blobs {
				if math.Abs(float64(x)-b.x) < b.w/2 && math.Abs(float64(y)-b.y) < b.h/2 {
					c = b.c
					if (x/6+y/6)%2 == 0 {
						c = [3]float64{c[0] * 0.6, c[1] * 0.6, c[2] * 0.6}
					}
				}
			}
			if s.Shadow > 0 && !s.NoFace {
				u, v := toPortrait(float64(x)-0.3*faceW, float64(y)-0.08*faceW)
				if a := personAlpha(p, u, v, mouth); a > 0 {
					for i := range c {
						c[i] *= 1 - s.Shadow*a
					}
				}
			}
			if !s.NoFace {
				u, v := toPortrait(float64(x), float64(y))
				u, v = s.warp(p, u, v)
				if pc, a := s.person(p, u, v, pw, ph); a > 0 {
					if s.SideLight != 0 {
						f := 1 + s.SideLight*(float64(x)-s.EyeX)/faceW
						pc = [3]float64{pc[0] * f, pc[1] * f, pc[2] * f}
					}
					for i := range c {
						c[i] = c[i]*(1-a) + pc[i]*a
					}
				}
			}
			i := out.PixOffset(x, y)
			for ch := 0; ch < 3; ch++ {
				out.Pix[i+ch] = uint8(max(0, min(255, c[ch])))
			}
			out.Pix[i+3] = 255
		}
	}
	if s.Second && second != nil {
		pasteSecondFace(out, second, s)
	}
	if s.Blur > 0 {
		gaussBlur(out, s.Blur*s.IPD)
	}
	if s.Motion > 0 {
		motionBlur(out, int(s.Motion*s.IPD))
	}
	gain := s.Gain
	if gain == 0 {
		gain = 1
	}
	if gain != 1 || s.Noise > 0 {
		for i := 0; i < len(out.Pix); i += 4 {
			for ch := 0; ch < 3; ch++ {
				v := float64(out.Pix[i+ch])*gain + rng.NormFloat64()*s.Noise
				out.Pix[i+ch] = uint8(max(0, min(255, math.Round(v))))
			}
		}
	}
	return out
}

type blob struct {
	x, y, w, h float64
	c          [3]float64
}

// personAlpha is the person's coverage at portrait coordinates (u, v):
// the matted head, the neck and the shirt.
func personAlpha(p *portrait, u, v float64, _ photo.Point) float64 {
	pw, ph := p.img.Rect.Dx(), p.img.Rect.Dy()
	if v < p.cutY && u >= 0 && v >= 0 && u < float64(pw-1) && v < float64(ph-1) {
		return float64(p.alpha[int(v)*pw+int(u)])
	}
	cx := p.eyeMid().X
	if v >= p.cutY-30 && math.Abs(u-cx) < 0.6*p.ipd() {
		return 1
	}
	if v >= p.chinY && math.Abs(u-cx) < shirtHalf(p, v) {
		return 1
	}
	return 0
}

func shirtHalf(p *portrait, v float64) float64 {
	d := p.ipd()
	return min(1.3*d+(v-p.chinY)*1.2, 2.4*d)
}

// person returns the person's colour and coverage at portrait (u, v).
func (s scene) person(p *portrait, u, v float64, pw, ph int) ([3]float64, float64) {
	cx := p.eyeMid().X
	d := p.ipd()
	if v < p.cutY && u >= 0 && v >= 0 && u < float64(pw-1) && v < float64(ph-1) {
		a := bilinearAlpha(p, u, v)
		if a > 0 {
			return s.portraitColour(p, u, v), a
		}
	}
	if v >= p.chinY && math.Abs(u-cx) < shirtHalf(p, v) && !(math.Abs(u-cx) < 0.45*d && v < p.chinY+0.5*d) {
		shade := 1 - 0.15*math.Abs(u-cx)/(2.4*d)
		return [3]float64{float64(s.Shirt.R) * shade, float64(s.Shirt.G) * shade, float64(s.Shirt.B) * shade}, 1
	}
	if v >= p.cutY-30 && math.Abs(u-cx) < 0.6*d {
		shade := 0.85 - 0.2*math.Abs(u-cx)/(0.6*d)
		return [3]float64{float64(p.skin.R) * shade, float64(p.skin.G) * shade, float64(p.skin.B) * shade}, 1
	}
	return [3]float64{}, 0
}

// portraitColour samples the portrait with the scene's face edits.
func (s scene) portraitColour(p *portrait, u, v float64) [3]float64 {
	d := p.ipd()
	if s.EyesClosed {
		for _, e := range []photo.Point{p.eyeL, p.eyeR} {
			du, dv := (u-e.X)/(0.3*d), (v-e.Y)/(0.15*d)
			if du*du+dv*dv < 1 {
				// skin from the cheek below, and a thin lash line
				c := bilinear(p.img, u, v+0.42*d)
				if math.Abs(v-e.Y-0.02*d) < 0.012*d+0.6 {
					c = [3]float64{c[0] * 0.35, c[1] * 0.3, c[2] * 0.3}
				}
				return c
			}
		}
	}
	if s.MouthOpen {
		du, dv := (u-p.lip.X)/(0.3*d), (v-p.lip.Y-0.1*d)/(0.16*d)
		if du*du+dv*dv < 1 {
			if v-p.lip.Y-0.1*d < -0.06*d {
				return [3]float64{232, 226, 214} // upper teeth
			}
			return [3]float64{45, 20, 22} // mouth cavity
		}
	}
	return bilinear(p.img, u, v)
}

// warp moves the nose (synthetic yaw and pitch): a Gaussian displacement
// centred on the nose tip, applied as an inverse map.
func (s scene) warp(p *portrait, u, v float64) (float64, float64) {
	if s.NoseShift == (photo.Point{}) {
		return u, v
	}
	d := p.ipd()
	nose := photo.Point{X: p.eyeMid().X + 0.02*d, Y: p.eyeMid().Y + 0.6*d}
	du, dv := (u-nose.X)/(0.2*d), (v-nose.Y)/(0.2*d)
	g := math.Exp(-(du*du + dv*dv) / 2)
	return u - s.NoseShift.X*d*g, v - s.NoseShift.Y*d*g
}

func bilinear(img *image.NRGBA, u, v float64) [3]float64 {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	u = max(0, min(float64(w)-1.001, u))
	v = max(0, min(float64(h)-1.001, v))
	x0, y0 := int(u), int(v)
	fx, fy := u-float64(x0), v-float64(y0)
	var c [3]float64
	for ch := 0; ch < 3; ch++ {
		p00 := float64(img.Pix[img.PixOffset(x0, y0)+ch])
		p10 := float64(img.Pix[img.PixOffset(x0+1, y0)+ch])
		p01 := float64(img.Pix[img.PixOffset(x0, y0+1)+ch])
		p11 := float64(img.Pix[img.PixOffset(x0+1, y0+1)+ch])
		c[ch] = (p00*(1-fx)+p10*fx)*(1-fy) + (p01*(1-fx)+p11*fx)*fy
	}
	return c
}

func bilinearAlpha(p *portrait, u, v float64) float64 {
	w := p.img.Rect.Dx()
	x0, y0 := int(u), int(v)
	fx, fy := u-float64(x0), v-float64(y0)
	a := func(x, y int) float64 { return float64(p.alpha[y*w+x]) }
	return (a(x0, y0)*(1-fx)+a(x0+1, y0)*fx)*(1-fy) + (a(x0, y0+1)*(1-fx)+a(x0+1, y0+1)*fx)*fy
}

// pasteSecondFace puts the astronaut's face, scaled to the student's size,
// beside the student (a parent looking over a shoulder).
func pasteSecondFace(out *image.NRGBA, a *image.NRGBA, s scene) {
	// The astronaut's eyes are near (205,125) and (250,125): IPD ~45 px.
	k := s.IPD / 45
	cx, cy := 227.0, 135.0
	dstX := s.EyeX + 4.6*s.IPD
	if dstX+1.8*s.IPD > float64(s.W) {
		dstX = s.EyeX - 4.6*s.IPD
	}
	dstY := s.EyeY + 0.3*s.IPD
	rx, ry := 1.6*s.IPD, 2.1*s.IPD
	for y := int(dstY - ry); y < int(dstY+ry); y++ {
		for x := int(dstX - rx); x < int(dstX+rx); x++ {
			if x < 0 || y < 0 || x >= s.W || y >= s.H {
				continue
			}
			du, dv := (float64(x)-dstX)/rx, (float64(y)-dstY)/ry
			r := du*du + dv*dv
			if r >= 1 {
				continue
			}
			al := clamp01((1 - r) * 5)
			c := bilinear(a, cx+(float64(x)-dstX)/k, cy+(float64(y)-dstY)/k)
			i := out.PixOffset(x, y)
			for ch := 0; ch < 3; ch++ {
				out.Pix[i+ch] = uint8(float64(out.Pix[i+ch])*(1-al) + c[ch]*al)
			}
		}
	}
}

func gaussBlur(img *image.NRGBA, sigma float64) {
	r := int(math.Ceil(3 * sigma))
	k := make([]float64, 2*r+1)
	var sum float64
	for i := range k {
		x := float64(i - r)
		k[i] = math.Exp(-x * x / (2 * sigma * sigma))
		sum += k[i]
	}
	for i := range k {
		k[i] /= sum
	}
	convolve(img, k, true)
	convolve(img, k, false)
}

func motionBlur(img *image.NRGBA, n int) {
	if n < 2 {
		return
	}
	k := make([]float64, n|1)
	for i := range k {
		k[i] = 1 / float64(len(k))
	}
	convolve(img, k, true)
}

// convolve applies a 1-D kernel along rows (horizontal) or columns.
func convolve(img *image.NRGBA, k []float64, horizontal bool) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	r := len(k) / 2
	src := append([]uint8(nil), img.Pix...)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var c [3]float64
			for i, kv := range k {
				xx, yy := x, y
				if horizontal {
					xx = max(0, min(w-1, x+i-r))
				} else {
					yy = max(0, min(h-1, y+i-r))
				}
				o := yy*img.Stride + xx*4
				c[0] += kv * float64(src[o])
				c[1] += kv * float64(src[o+1])
				c[2] += kv * float64(src[o+2])
			}
			o := y*img.Stride + x*4
			for ch := 0; ch < 3; ch++ {
				img.Pix[o+ch] = uint8(max(0, min(255, math.Round(c[ch]))))
			}
		}
	}
}

// rotateCCW turns img a quarter counter-clockwise: a portrait-mounted
// camera's raw frame, which Rotation 90 turns back upright.
func rotateCCW(img *image.NRGBA) *image.NRGBA {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	out := image.NewNRGBA(image.Rect(0, 0, h, w))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			copy(out.Pix[out.PixOffset(y, w-1-x):][:4], img.Pix[img.PixOffset(x, y):][:4])
		}
	}
	return out
}

func encodeJPEG(tb testing.TB, img image.Image, q int) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
		tb.Fatalf("encode jpeg: %v", err)
	}
	return buf.Bytes()
}

func encodePNG(tb testing.TB, img image.Image) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		tb.Fatalf("encode png: %v", err)
	}
	return buf.Bytes()
}
