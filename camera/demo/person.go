package demo

import (
	"image"
	"image/draw"
	"math"
)

// Where things are on the portrait (assets/pigo-sample.jpg, 320x400), in
// its own pixels. The pupil centres are dark-weighted centroids measured
// once on the picture; the head's outline comes from the matte.
var (
	pupilLeft  = Point{113.3, 182.1}
	pupilRight = Point{203.9, 180.1}
	eyeMid     = Point{(113.3 + 203.9) / 2, (182.1 + 180.1) / 2}
	// neckBase is the point the head turns about: the bottom of the neck,
	// where the T-shirt's collar is.
	neckBase = Point{eyeMid.X, 400}
)

// Distances on the portrait along the face's vertical axis (perpendicular
// to the pupil line), from the pupil midpoint.
const (
	crownDist = 168.0 // up to the top of the hair (where the matte is half on)
	chinDist  = 163.0 // down to the bottom of the chin
)

// Widths on the portrait, and the scale at which the person is drawn.
//
// The scale sets how many frame rows the framing analysis plans for the
// graduation photo's crop window: it takes the face to be 2.2 pupil
// distances wide and scales it to 220 of 480 output pixels, so the window
// has 6.4 rows per pixel of pupil distance (106.5 px here: about 680 rows).
// At 1.1 the window had 633 to 646 rows and the resolution check (at least
// 640) flipped from frame to frame in the hold. Above about 1.23 the
// window (eyes on row 250 of 640, at frame row 285) no longer fits in the
// frame's 720 rows.
const (
	headLeft    = 45.0  // left side of the head at the eye line (ear)
	headRight   = 271.0 // right side of the head at the eye line (ear)
	templeWidth = 219.0 // face width just above the ears, cheek to cheek
	scale       = 1.175 // frame pixels per portrait pixel
)

// baseTilt is the portrait's own head roll, which every pose undoes so that
// a pose's roll is the roll of the pupil line: the subject's left eye (image
// right) sits 2 px higher than the right one.
var baseTilt = -math.Atan2(pupilRight.Y-pupilLeft.Y, pupilRight.X-pupilLeft.X)

// crownAt and chinAt are the crown and chin on the portrait: on the axis
// through the pupil midpoint, perpendicular to the pupil line.
var (
	crownAt = alongAxis(-crownDist)
	chinAt  = alongAxis(chinDist)
)

// faceCorners are the corners of the head's own box on the portrait: ear to
// ear along the pupil line, crown to chin along the axis.
var faceCorners = []Point{
	onFace(headLeft-eyeMid.X, -crownDist), onFace(headRight-eyeMid.X, -crownDist),
	onFace(headLeft-eyeMid.X, chinDist), onFace(headRight-eyeMid.X, chinDist),
}

func alongAxis(d float64) Point { return onFace(0, d) }

// onFace returns the portrait point u along the pupil line (to the right)
// and v down the face's axis (the pupil line turned by 90°) from the
// pupils' midpoint.
func onFace(u, v float64) Point {
	dx, dy := pupilRight.X-pupilLeft.X, pupilRight.Y-pupilLeft.Y
	n := math.Hypot(dx, dy)
	dx, dy = dx/n, dy/n
	return Point{eyeMid.X + u*dx - v*dy, eyeMid.Y + u*dy + v*dx}
}

// affine maps (x, y) to (a*x + b*y + tx, c*x + d*y + ty).
type affine struct{ a, b, c, d, tx, ty float64 }

func (m affine) apply(p Point) Point {
	return Point{m.a*p.X + m.b*p.Y + m.tx, m.c*p.X + m.d*p.Y + m.ty}
}

func (m affine) inverse() affine {
	det := m.a*m.d - m.b*m.c
	a, b, c, d := m.d/det, -m.b/det, -m.c/det, m.a/det
	return affine{a, b, c, d, -(a*m.tx + b*m.ty), -(c*m.tx + d*m.ty)}
}

// turn returns the map that scales by s and turns by theta radians
// (clockwise on screen, where y points down) about from, and puts from at to.
func turn(from, to Point, s, theta float64) affine {
	cos, sin := s*math.Cos(theta), s*math.Sin(theta)
	return affine{
		a: cos, b: -sin, c: sin, d: cos,
		tx: to.X - (cos*from.X - sin*from.Y),
		ty: to.Y - (sin*from.X + cos*from.Y),
	}
}

// neckAt returns where the base of the neck is in the frame for pose p. It
// does not depend on the roll: the head turns about it.
func neckAt(p pose) Point {
	level := turn(neckBase, Point{}, scale, baseTilt).apply(eyeMid)
	return Point{p.eye.X - level.X, p.eye.Y - level.Y}
}

// headTransform maps portrait pixels to frame pixels for pose p.
func headTransform(p pose) affine {
	return turn(neckBase, neckAt(p), scale, baseTilt+p.roll*math.Pi/180)
}

// The matte: a pixel whose colour is within matteLow of the portrait's
// background is background, one beyond matteHigh is the person, and in
// between the person is partly transparent (hair).
const (
	matteLow  = 14.0
	matteHigh = 40.0
)

// headRows is the height of the head sprite: the portrait plus the rows
// below it where the neck's U-shaped opening in the T-shirt closes.
const headRows = 448

// buildHead cuts the person out of the portrait: it returns the head, neck
// and collar opening as a premultiplied sprite in portrait pixels, with the
// portrait's background removed (and its colour taken out of the
// partly-transparent edge pixels, so no light halo remains).
func buildHead(src image.Image) *image.RGBA {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	rgba := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(rgba, rgba.Bounds(), src, b.Min, draw.Src)

	out := image.NewRGBA(image.Rect(0, 0, w, headRows))
	alpha := make([]float64, w)
	spans := make([][2]float64, h) // the person's left and right edge per row
	for y := range h {
		row := rgba.Pix[y*rgba.Stride : y*rgba.Stride+4*w]
		// The background is lit unevenly: model it per row as the blend
		// of the colours at the row's two ends.
		left, right := edgeColour(row, 0, 6), edgeColour(row, w-6, w)
		bg := func(x int) [3]float64 {
			f := float64(x) / float64(w-1)
			return [3]float64{
				left[0] + (right[0]-left[0])*f,
				left[1] + (right[1]-left[1])*f,
				left[2] + (right[2]-left[2])*f,
			}
		}
		first, last := -1, -1
		for x := range w {
			c, g := row[4*x:4*x+3], bg(x)
			d := math.Sqrt(sq(float64(c[0])-g[0]) + sq(float64(c[1])-g[1]) + sq(float64(c[2])-g[2]))
			a := clamp01((d - matteLow) / (matteHigh - matteLow))
			alpha[x] = a
			if a >= 0.5 {
				if first < 0 {
					first = x
				}
				last = x
			}
		}
		if first < 0 {
			continue // nothing of the person on this row
		}
		// The head is convex row by row: whatever lies between its left
		// and right edges (the whites of the eyes, highlights on the skin)
		// is the person even where its colour is close to the wall's.
		// Specks beyond a few pixels outside the edges are noise.
		for x := range w {
			switch {
			case x > first && x < last:
				alpha[x] = 1
			case x < first-3 || x > last+3:
				alpha[x] = 0
			}
			a := alpha[x]
			c, g := row[4*x:4*x+3], bg(x)
			o := out.Pix[y*out.Stride+4*x : y*out.Stride+4*x+4]
			if y >= shirtFromRow && whitish(c) {
				// The portrait's white T-shirt, in the demo's colour with
				// the portrait's shading.
				f := (float64(c[0]) + float64(c[1]) + float64(c[2])) / 3 / portraitShirt
				for k := range 3 {
					o[k] = uint8(math.Round(math.Min(255, shirt[k]*f) * a))
				}
				o[3] = uint8(math.Round(a * 255))
				continue
			}
			for k := range 3 {
				// Premultiplied colour with the background's share removed.
				v := float64(c[k]) - (1-a)*g[k]
				o[k] = uint8(math.Round(math.Max(0, math.Min(a*255, v))))
			}
			o[3] = uint8(math.Round(a * 255))
		}
		spans[y] = [2]float64{float64(first), float64(last)}
	}
	// The collar narrows at the rate of the portrait's last 12 rows.
	end, start := spans[h-1], spans[h-13]
	closeCollar(out, h, end[0], end[1], (end[0]-start[0])/12, (end[1]-start[1])/12)
	return out
}

// whitish reports whether c is a light, nearly grey colour: the portrait's
// T-shirt rather than skin.
func whitish(c []uint8) bool {
	lo := min(c[0], c[1], c[2])
	hi := max(c[0], c[1], c[2])
	return lo >= 110 && hi-lo <= 50
}

// closeCollar continues the neck below the portrait's last row, narrowing
// at the rate of the rows above, until the U of the collar closes.
func closeCollar(out *image.RGBA, from int, left, right, slopeL, slopeR float64) {
	slopeL, slopeR = math.Max(slopeL, 0.6), math.Min(slopeR, -0.6)
	lastRow := out.Pix[(from-1)*out.Stride : from*out.Stride]
	for y := from; y < headRows; y++ {
		n := float64(y - from + 1)
		l, r := left+slopeL*n, right+slopeR*n
		if l >= r {
			return
		}
		row := out.Pix[y*out.Stride : (y+1)*out.Stride]
		for x := int(l); x <= int(r)+1 && x < out.Rect.Dx(); x++ {
			a := clamp01(math.Min(float64(x)-l+0.5, r-float64(x)+0.5))
			// Take the colour straight down from the last row, clamped
			// into the span so that it is skin.
			sx := min(max(x, int(left)+2), int(right)-2)
			c := lastRow[4*sx : 4*sx+4]
			for k := range 3 {
				row[4*x+k] = uint8(math.Round(float64(c[k]) * 0.97 * a))
			}
			row[4*x+3] = uint8(math.Round(a * 255))
		}
	}
}

func edgeColour(row []uint8, from, to int) [3]float64 {
	var s [3]float64
	for x := from; x < to; x++ {
		for k := range 3 {
			s[k] += float64(row[4*x+k])
		}
	}
	n := float64(to - from)
	return [3]float64{s[0] / n, s[1] / n, s[2] / n}
}

// The T-shirt's colour and the shape of the upper body, in portrait pixels
// relative to the neck's axis. The portrait's own T-shirt is white, which
// on a white booth wall would vanish with the wall when the background is
// replaced (the framing check says so: "wear a darker top"); the demo
// student wears a charcoal one, as a booth would ask. portraitShirt is the
// white the portrait's shirt is recoloured from.
var (
	shirt         = [3]float64{58, 60, 66}
	portraitShirt = 242.0
)

// shirtFromRow is the first portrait row where the T-shirt can appear
// (beside the neck, just above neckTop).
const shirtFromRow = 330

const (
	neckTop       = 336.0 // the shirt's top beside the neck
	shoulderX     = 222.0 // where the slope of the shoulder turns into the arm
	shoulderTop   = 408.0 // the shoulder's top at shoulderX
	shoulderR     = 50.0  // radius of the shoulder's cap
	armX          = 272.0 // outer side of the upper arm
	armFlare      = 0.05  // how much the arms widen downwards, per row
	neckHalfWidth = 80.0
)

// inBody reports whether the portrait-space point (a = distance from the
// body's axis, v = row) is on the shirt.
func inBody(a, v float64) bool {
	capY := shoulderTop + shoulderR
	if a > armX+armFlare*math.Max(0, v-capY) {
		return false
	}
	if a <= shoulderX {
		f := clamp01((a - neckHalfWidth) / (shoulderX - neckHalfWidth))
		// The slope of the shoulders: steep beside the neck, level where
		// it meets the shoulder's cap.
		return v >= neckTop+(shoulderTop-neckTop)*easeOut(f)
	}
	return v >= capY || sq(a-shoulderX)+sq(v-capY) <= sq(shoulderR)
}

// bodyShade is the light on the shirt: it falls off towards the sides of
// the body, and a crease marks where each arm meets the chest.
func bodyShade(a, v float64) float64 {
	f := 0.98 - 0.16*sq(a/armX)
	if v > shoulderTop+shoulderR {
		crease := math.Exp(-sq((a-shoulderX+10)/6)) * clamp01((v-shoulderTop-shoulderR)/40)
		f -= 0.07 * crease
	}
	return f
}

// bodyBelow is how far the body sprite reaches below the base of the neck,
// in frame pixels: to below the frame's bottom edge for every pose.
const bodyBelow = 240

// buildBody draws the upper body (T-shirt and arms) at the frame's scale as
// a premultiplied sprite. Pixels on the outline are antialiased by 4x4
// supersampling; the others are wholly in or out, which the corners of the
// pixel tell. anchor is the sprite pixel that goes on the base of the neck.
func buildBody() (sprite *image.RGBA, anchor image.Point) {
	half := int(math.Ceil((armX + armFlare*float64(bodyBelow)/scale + 2) * scale))
	top := int(math.Floor((neckTop - neckBase.Y - 2) * scale))
	sprite = image.NewRGBA(image.Rect(0, 0, 2*half, bodyBelow-top))
	anchor = image.Pt(half, -top)
	w, h := sprite.Rect.Dx(), sprite.Rect.Dy()
	in := func(fx, fy float64) bool { // frame offset from the anchor
		return inBody(math.Abs(fx)/scale, neckBase.Y+fy/scale)
	}
	// corner[y][x] is whether the top-left corner of pixel (x, y) is inside.
	corner := make([][]bool, h+1)
	for y := range corner {
		corner[y] = make([]bool, w+1)
		for x := range corner[y] {
			corner[y][x] = in(float64(x-anchor.X)-0.5, float64(y-anchor.Y)-0.5)
		}
	}
	const n = 4
	for y := range h {
		for x := range w {
			c := corner[y][x]
			a := 0.0
			switch {
			case c == corner[y][x+1] && c == corner[y+1][x] && c == corner[y+1][x+1]:
				if c {
					a = 1
				}
			default:
				hits := 0
				for sy := range n {
					for sx := range n {
						fx := float64(x-anchor.X) + (float64(sx)+0.5)/n - 0.5
						fy := float64(y-anchor.Y) + (float64(sy)+0.5)/n - 0.5
						if in(fx, fy) {
							hits++
						}
					}
				}
				a = float64(hits) / (n * n)
			}
			if a == 0 {
				continue
			}
			shade := bodyShade(math.Abs(float64(x-anchor.X))/scale, neckBase.Y+float64(y-anchor.Y)/scale)
			o := sprite.Pix[y*sprite.Stride+4*x : y*sprite.Stride+4*x+4]
			for k := range 3 {
				o[k] = uint8(math.Round(shirt[k] * shade * a))
			}
			o[3] = uint8(math.Round(a * 255))
		}
	}
	return sprite, anchor
}

func sq(x float64) float64 { return x * x }

func clamp01(x float64) float64 { return math.Max(0, math.Min(1, x)) }
