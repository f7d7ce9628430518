package photo

import (
	"math"
	"slices"
)

// Face-shape constants, in units of the inter-pupil distance (IPD) unless
// said otherwise. They were measured once on the fixture portrait and agree
// with average adult proportions (IPD 63 mm, cheek width about 135 mm).
const (
	faceWidthPerIPD = 2.2  // cheek-to-cheek width / IPD
	noseDepthPerIPD = 0.55 // how far the nose tip stands out of the eye plane
	// The nose tip's frontal position: its offset across the eye-mouth
	// axis, and its distance along it as a share of eye-to-lip distance.
	noseAcross0 = 0.005
	noseAlong0  = 0.571
)

// frameAxes maps face coordinates (a across, b down, in IPD units from the
// eye midpoint, turned with the eye line) to frame pixels.
type frameAxes struct {
	o          Point
	ux, uy     float64 // unit vector along the eye line
	d          float64 // IPD in pixels
	w, h       int
	cosT, sinT float64
}

func newAxes(g *Geometry) frameAxes {
	l, r := g.Pupils[0], g.Pupils[1]
	d := math.Hypot(r.X-l.X, r.Y-l.Y)
	ux, uy := (r.X-l.X)/d, (r.Y-l.Y)/d
	return frameAxes{o: g.EyeMid, ux: ux, uy: uy, d: d, w: g.Width, h: g.Height}
}

func (f frameAxes) at(a, b float64) (int, int) {
	x := f.o.X + f.d*(a*f.ux-b*f.uy)
	y := f.o.Y + f.d*(a*f.uy+b*f.ux)
	return int(math.Round(x)), int(math.Round(y))
}

// toFace maps a frame point to face coordinates.
func (f frameAxes) toFace(p Point) (a, b float64) {
	dx, dy := p.X-f.o.X, p.Y-f.o.Y
	return (dx*f.ux + dy*f.uy) / f.d, (-dx*f.uy + dy*f.ux) / f.d
}

// meanLuma averages the luma over face-coordinate box [a0,a1]x[b0,b1],
// sampling about n points per side.
func (p *pixels) meanLuma(f frameAxes, a0, a1, b0, b1 float64, n int) float64 {
	var sum float64
	for i := 0; i < n; i++ {
		a := a0 + (a1-a0)*(float64(i)+0.5)/float64(n)
		for j := 0; j < n; j++ {
			b := b0 + (b1-b0)*(float64(j)+0.5)/float64(n)
			x, y := f.at(a, b)
			sum += float64(p.y(x, y))
		}
	}
	return sum / float64(n*n)
}

// pose fills roll, yaw and pitch from the pupils and landmarks.
func pose(g *Geometry) {
	l, r := g.Pupils[0], g.Pupils[1]
	g.RollDeg = math.Atan2(r.Y-l.Y, r.X-l.X) * 180 / math.Pi
	f := newAxes(g)
	na, nb := f.toFace(g.Landmarks.NoseTip)
	_, mb := f.toFace(g.Landmarks.UpperLip)
	// Turning the head by yaw moves the protruding nose tip across the
	// face by depth*sin(yaw); tilting it by pitch moves it along.
	g.YawDeg = asinDeg((na - noseAcross0) / noseDepthPerIPD)
	if mb > 0.3 {
		g.PitchDeg = asinDeg((noseAlong0*mb - nb) / noseDepthPerIPD)
	}
}

func asinDeg(v float64) float64 { return math.Asin(clampF(v, -1, 1)) * 180 / math.Pi }

// eyeOpenness measures, for the pupil at face coordinate a, the height of
// the dark band through it (iris and pupil between the lids) in IPD units:
// the run of dark rows that contains the pupil's row.
func (p *pixels) eyeOpenness(f frameAxes, a, skin float64, prof []float64) float64 {
	const half = 0.14 // profile from b = -half to +half: iris, not the brow
	n := max(int(2*half*f.d), 8)
	prof = prof[:0]
	for i := 0; i < n; i++ {
		b := -half + 2*half*(float64(i)+0.5)/float64(n)
		var s float64
		for k := -2; k <= 2; k++ {
			x, y := f.at(a+0.025*float64(k), b)
			s += float64(p.y(x, y))
		}
		prof = append(prof, s/5)
	}
	// The darkest row within 0.04 IPD of the pupil.
	lo, at := math.Inf(1), n/2
	for i := n/2 - max(int(0.04*f.d), 1); i <= n/2+max(int(0.04*f.d), 1); i++ {
		if i >= 0 && i < n && prof[i] < lo {
			lo, at = prof[i], i
		}
	}
	if lo > 0.75*skin {
		return 0 // no dark iris at the pupil: closed, or not an eye
	}
	thr := lo + 0.5*(skin-lo)
	top, bot := at, at
	for top > 0 && prof[top-1] < thr {
		top--
	}
	for bot < n-1 && prof[bot+1] < thr {
		bot++
	}
	return float64(bot-top+1) / float64(n) * 2 * half
}

// mouthGap measures the tallest run of rows at the lip line that are dark
// (an open mouth) or mostly teeth (bright and grey against the skin).
func (p *pixels) mouthGap(f frameAxes, lipB, skin float64) float64 {
	b0, b1 := lipB-0.15, lipB+0.3
	n := max(int((b1-b0)*f.d), 8)
	const cols = 9
	var run, best int
	for i := 0; i < n; i++ {
		b := b0 + (b1-b0)*(float64(i)+0.5)/float64(n)
		var sum float64
		teeth := 0
		for k := 0; k < cols; k++ {
			a := -0.15 + 0.3*float64(k)/float64(cols-1)
			x, y := f.at(a, b)
			r, g, bl := p.rgb(x, y)
			lum := float64(luma(r, g, bl))
			sum += lum
			hi := float64(max(r, g, bl))
			lo := float64(min(r, g, bl))
			if lum > skin && lum < 250 && hi > 0 && (hi-lo)/hi < 0.2 {
				teeth++
			}
		}
		open := sum/cols < 0.35*skin || teeth*10 >= cols*4
		if open {
			run++
			best = max(best, run)
		} else {
			run = 0
		}
	}
	return float64(best) / float64(n) * (b1 - b0)
}

// exposure measures the face's mean luma and its clipped and crushed shares.
func (p *pixels) exposure(f frameAxes, m *Measures) {
	const n = 40
	var sum float64
	var clip, crush, cnt int
	for i := 0; i < n; i++ {
		a := -0.75 + 1.5*(float64(i)+0.5)/n
		for j := 0; j < n; j++ {
			b := -0.45 + 1.8*(float64(j)+0.5)/n
			if b > -0.15 && b < 0.15 && math.Abs(math.Abs(a)-0.5) < 0.25 {
				continue // the eyes: dark pupils are not crushed shadows
			}
			x, y := f.at(a, b)
			v := p.y(x, y)
			cnt++
			sum += float64(v)
			if v >= 250 {
				clip++
			}
			if v <= 20 {
				crush++
			}
		}
	}
	m.FaceLuma = sum / float64(cnt) / 255
	m.Clipped = float64(clip) / float64(cnt)
	m.Crushed = float64(crush) / float64(cnt)
}

// sharpness resamples a face patch (eyes to mouth) to a fixed size by box
// averaging, so that the measure does not depend on how big the face is in
// the frame, and returns 100 * var(Laplacian) / var(patch).
func (p *pixels) sharpness(f frameAxes, patch []float64) float64 {
	const n = 72 // patch side: 1.8 IPD -> IPD = 40 px
	x0 := f.o.X - 0.9*f.d
	y0 := f.o.Y - 0.5*f.d
	step := 1.8 * f.d / n
	k := max(int(step), 1) // box size in frame pixels
	for j := 0; j < n; j++ {
		for i := 0; i < n; i++ {
			sx := int(x0 + float64(i)*step)
			sy := int(y0 + float64(j)*step)
			var s int
			for yy := 0; yy < k; yy++ {
				for xx := 0; xx < k; xx++ {
					s += int(p.y(sx+xx, sy+yy))
				}
			}
			patch[j*n+i] = float64(s) / float64(k*k)
		}
	}
	var mean, m2, lmean, l2 float64
	cnt := 0
	for _, v := range patch[:n*n] {
		mean += v
	}
	mean /= n * n
	for _, v := range patch[:n*n] {
		m2 += (v - mean) * (v - mean)
	}
	m2 /= n * n
	for j := 1; j < n-1; j++ {
		for i := 1; i < n-1; i++ {
			c := patch[j*n+i]
			l := patch[j*n+i-1] + patch[j*n+i+1] + patch[(j-1)*n+i] + patch[(j+1)*n+i] - 4*c
			lmean += l
			l2 += l * l
			cnt++
		}
	}
	lmean /= float64(cnt)
	lv := l2/float64(cnt) - lmean*lmean
	if m2 < 1 {
		return 0
	}
	return 100 * lv / m2
}

// wallModel is the median colour of samples that are mostly wall.
type rgbf struct{ r, g, b float64 }

func medianRGB(s []rgbf, tmp []float64) rgbf {
	med := func(get func(rgbf) float64) float64 {
		tmp = tmp[:0]
		for _, c := range s {
			tmp = append(tmp, get(c))
		}
		slices.Sort(tmp)
		return tmp[len(tmp)/2]
	}
	return rgbf{med(func(c rgbf) float64 { return c.r }), med(func(c rgbf) float64 { return c.g }), med(func(c rgbf) float64 { return c.b })}
}

func (p *pixels) rgbAt(x, y int) rgbf {
	r, g, b := p.rgb(x, y)
	return rgbf{float64(r), float64(g), float64(b)}
}

func colourDist(a, b rgbf) float64 {
	return max(math.Abs(a.r-b.r), math.Abs(a.g-b.g), math.Abs(a.b-b.b))
}

// crown finds the top of the hair: scanning down a band as wide as half
// the face, centred on it, the first rows where a quarter of the band
// differs from the wall.
func (a *Analyzer) crown(p *pixels, g *Geometry) {
	cx, fw := g.FaceCentreX, g.FaceWidth
	top := int(g.FaceBox.Y)
	if top <= 0 {
		g.CrownY, g.CrownCut = 0, true
		return
	}
	// Wall samples: the top rows across a wide band, and beside the head
	// at the height of the face box's top.
	s := a.rgbScratch[:0]
	for x := cx - 1.2*fw; x <= cx+1.2*fw; x += fw / 16 {
		for y := 1; y <= 5; y += 2 {
			s = append(s, p.rgbAt(int(x), y))
		}
	}
	for _, dx := range []float64{-1.2, -1.1, -1.0, 1.0, 1.1, 1.2} {
		for dy := -0.2; dy <= 0.2; dy += 0.1 {
			s = append(s, p.rgbAt(int(cx+dx*fw), top+int(dy*fw)))
		}
	}
	wall := medianRGB(s, a.floatScratch)
	a.rgbScratch = s
	const thr = 28
	x0, x1 := int(cx-0.25*fw), int(cx+0.25*fw)
	stepX := max((x1-x0)/24, 1)
	frac := func(y int) float64 {
		var n, diff int
		for x := x0; x <= x1; x += stepX {
			n++
			if colourDist(p.rgbAt(x, y), wall) > thr {
				diff++
			}
		}
		return float64(diff) / float64(n)
	}
	for y := 0; y < top; y++ {
		if frac(y) < 0.25 {
			continue
		}
		ok := true
		for k := 1; k <= 3 && y+k < top; k++ {
			if frac(y+k) < 0.25 {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		g.CrownY, g.CrownCut = float64(y), y == 0
		return
	}
	g.CrownY = float64(top)
}

// background measures the wall inside the crop window: above the crown
// and beside the head, in square cells of a sixth of the face width.
func (a *Analyzer) background(p *pixels, g *Geometry, spec Spec, m *BackgroundMeasures) {
	fw, cx := g.FaceWidth, g.FaceCentreX
	cell := max(fw/6, 4)
	c := g.Crop.Rect
	x0, x1 := max(c.X, 0), min(c.X+c.W, float64(p.w))
	y0 := max(c.Y, 0)
	cells := a.cellScratch[:0]
	measure := func(cx0, cy0 float64, near bool) {
		const k = 6
		var sum, sum2 float64
		var col rgbf
		for j := 0; j < k; j++ {
			for i := 0; i < k; i++ {
				x := int(cx0 + cell*(float64(i)+0.5)/k)
				y := int(cy0 + cell*(float64(j)+0.5)/k)
				v := p.rgbAt(x, y)
				lum := float64(luma(uint8(v.r), uint8(v.g), uint8(v.b)))
				sum += lum
				sum2 += lum * lum
				col.r += v.r
				col.g += v.g
				col.b += v.b
			}
		}
		mean := sum / (k * k)
		col = rgbf{col.r / (k * k), col.g / (k * k), col.b / (k * k)}
		cells = append(cells, cellStat{
			l:    toLab(col.r, col.g, col.b).L,
			std:  math.Sqrt(max(sum2/(k*k)-mean*mean, 0)),
			near: near, col: col,
		})
	}
	// Above the head: from the crop's top to just above the crown.
	yTop := g.CrownY - 0.08*fw
	for y := y0; y+cell <= yTop; y += cell {
		for x := x0; x+cell <= x1; x += cell {
			near := y+2*cell > yTop && math.Abs(x+cell/2-cx) < 0.6*fw
			measure(x, y, near)
		}
	}
	// Beside the head: from the crown down to the eye line + 0.5 IPD,
	// outside 0.72 face widths from the centre (hair and ears).
	yBot := min(g.EyeMid.Y+0.5*g.IPD, float64(p.h))
	for y := max(g.CrownY, y0); y+cell <= yBot; y += cell {
		for x := cx - 0.72*fw - cell; x >= x0; x -= cell {
			measure(x, y, x > cx-0.72*fw-2.5*cell)
		}
		for x := cx + 0.72*fw; x+cell <= x1; x += cell {
			measure(x, y, x < cx+0.72*fw+1.5*cell)
		}
	}
	a.cellScratch = cells
	m.Cells = len(cells)
	if len(cells) == 0 {
		return
	}
	ls := a.floatScratch[:0]
	stds := a.floatScratch2[:0]
	cols := a.rgbScratch[:0]
	for _, c := range cells {
		ls = append(ls, c.l)
		stds = append(stds, c.std)
		cols = append(cols, c.col)
	}
	slices.Sort(stds)
	m.Texture = stds[len(stds)/2]
	slices.Sort(ls)
	m.L = ls[len(ls)/2]
	m.Spread = ls[len(ls)*9/10] - ls[len(ls)/10]
	// Shadow: the darkest near cells against the median of the far ones.
	far := ls[:0:0]
	var nearL []float64
	for _, c := range cells {
		if c.near {
			nearL = append(nearL, c.l)
		} else {
			far = append(far, c.l)
		}
	}
	if len(far) >= 3 && len(nearL) >= 2 {
		slices.Sort(far)
		slices.Sort(nearL)
		// the second darkest near cell, so one noisy cell cannot decide
		m.Shadow = max(far[len(far)/2]-nearL[1], 0)
	}
	med := medianRGB(cols, a.floatScratch3)
	m.DeltaE = deltaE00(toLab(med.r, med.g, med.b), specLab(spec))
	if len(cols) > 0 {
		m.RGB = [3]float64{med.r, med.g, med.b}
	}
	a.floatScratch, a.floatScratch2, a.rgbScratch = ls, stds, cols
}

func specLab(s Spec) lab {
	return toLab(float64(s.Background.R), float64(s.Background.G), float64(s.Background.B))
}

// clothing measures the clothes on both shoulders, in the lowest sixth of
// the crop window, avoiding the neck.
func (a *Analyzer) clothing(p *pixels, g *Geometry, spec Spec, wall *BackgroundMeasures, m *ClothingMeasures) {
	fw, cx := g.FaceWidth, g.FaceCentreX
	c := g.Crop.Rect
	yb := min(c.Y+c.H, float64(p.h)) - 2
	ya := max(c.Y+c.H*5/6, g.EyeMid.Y+1.1*fw)
	if yb-ya < 4 {
		return
	}
	var sum rgbf
	n := 0
	const k = 10
	for _, side := range []float64{-1, 1} {
		for i := 0; i < k; i++ {
			x := cx + side*(0.35+0.55*(float64(i)+0.5)/k)*fw
			for j := 0; j < k; j++ {
				y := ya + (yb-ya)*(float64(j)+0.5)/k
				v := p.rgbAt(int(x), int(y))
				sum.r += v.r
				sum.g += v.g
				sum.b += v.b
				n++
			}
		}
	}
	cl := toLab(sum.r/float64(n), sum.g/float64(n), sum.b/float64(n))
	bg := specLab(spec)
	m.Seen = true
	m.DeltaE = deltaE00(cl, bg)
	m.Chroma = cl.chroma()
	m.HueDiff = hueDiff(cl.hue(), bg.hue())
	m.WallDeltaE = -1
	if wall.Cells > 0 {
		m.WallDeltaE = deltaE00(cl, toLab(wall.RGB[0], wall.RGB[1], wall.RGB[2]))
	}
}
