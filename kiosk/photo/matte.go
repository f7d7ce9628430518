package photo

import (
	"math"
	"slices"
)

// Background replacement, in output pixels (after the crop and scale):
//
//  1. A model of the wall B(x, y): a smooth quadratic surface per channel
//     fitted, with outliers rejected, to the parts of the picture that are
//     wall by the face's geometry (above the crown, beside the head); or,
//     with a clean plate of the empty booth, the plate rendered through the
//     same crop times a gain per channel fitted on those same parts.
//  2. A coarse classification by the distance d = |I - B| (RMS over the
//     channels) against the wall's noise: background is what is close to B
//     and connected to the picture's border; the rest of what is close to
//     B (highlights, a white collar inside a jacket) and an ellipse over the
//     face are person.
//  3. Alpha at the boundary from the known background: the projection of
//     I - B on F - B, where F is the colour of nearby solid person pixels;
//     then a colour guided filter (He, Sun, Tang) with the picture as the
//     guide, which follows hair and edges.
//  4. Decontamination (Germer et al.'s blur fusion with the known B): the
//     person's colour at a soft pixel is re-estimated so that the wall's
//     colour does not survive in it; the composite alpha*F + (1-alpha)*T
//     onto the template colour T then has no light halo.

// Matte tunables, in output pixels unless said otherwise.
const (
	matteGuidedRadius = 5
	matteGuidedEps    = 1e-3 // on 0..1 intensities
	matteFgDistance   = 45   // d from which a pixel is solid person
	matteMinBgDist    = 6    // the least background threshold (levels)
)

// wallModel is the wall behind the student in output pixels.
type wallModel struct {
	w, h  int
	coef  [3][6]float64 // quadratic surface per channel (no plate)
	plate *rgbPlane     // clean plate through the same crop, or nil
	gain  [3]float64    // plate gain per channel
	sigma float64       // noise of the wall (RMS over channels, levels)
	mean  [3]float64    // median wall colour of the inlier samples
}

func polyTerms(x, y float64, w, h int) [6]float64 {
	u := 2*x/float64(w) - 1
	v := 2*y/float64(h) - 1
	return [6]float64{1, u, v, u * u, u * v, v * v}
}

// at returns the modelled wall colour at (x, y).
func (m *wallModel) at(x, y int) (r, g, b float64) {
	if m.plate != nil {
		pr, pg, pb := m.plate.at(x, y)
		return m.gain[0] * float64(pr), m.gain[1] * float64(pg), m.gain[2] * float64(pb)
	}
	t := polyTerms(float64(x), float64(y), m.w, m.h)
	var c [3]float64
	for ch := range c {
		for k, tk := range t {
			c[ch] += m.coef[ch][k] * tk
		}
	}
	return c[0], c[1], c[2]
}

// faceLayout is the face in output pixels, from the plan.
type faceLayout struct {
	eyeX, eyeY, ipd, faceWidth, crownY float64
}

// wallSamples lists output points that are wall by the face's geometry:
// the band above the crown, and the sides beyond 0.8 face widths from the
// face centre down to the mouth.
func wallSamples(w, h int, f faceLayout) [][2]int {
	var s [][2]int
	const step = 3
	top := int(f.crownY - 0.12*f.ipd)
	for y := 1; y < top; y += step {
		for x := 1; x < w-1; x += step {
			s = append(s, [2]int{x, y})
		}
	}
	bottom := min(int(f.eyeY+1.0*f.ipd), h-1)
	for y := max(top, 1); y < bottom; y += step {
		for x := 1; x < w-1; x += step {
			if math.Abs(float64(x)-f.eyeX) > 0.8*f.faceWidth {
				s = append(s, [2]int{x, y})
			}
		}
	}
	return s
}

// fitWall fits the wall model to the samples with two rounds of outlier
// rejection (hair or a shoulder in a sample area, a spot on the wall).
func fitWall(img, plate *rgbPlane, samples [][2]int) *wallModel {
	m := &wallModel{w: img.w, h: img.h, plate: plate, gain: [3]float64{1, 1, 1}}
	keep := make([]bool, len(samples))
	for i := range keep {
		keep[i] = true
	}
	res := make([]float64, 0, len(samples))
	for round := 0; round < 3; round++ {
		if plate != nil {
			var num, den [3]float64
			for i, p := range samples {
				if !keep[i] {
					continue
				}
				r, g, b := img.at(p[0], p[1])
				pr, pg, pb := plate.at(p[0], p[1])
				num[0] += float64(r) * float64(pr)
				num[1] += float64(g) * float64(pg)
				num[2] += float64(b) * float64(pb)
				den[0] += float64(pr) * float64(pr)
				den[1] += float64(pg) * float64(pg)
				den[2] += float64(pb) * float64(pb)
			}
			for c := range m.gain {
				if den[c] > 0 {
					m.gain[c] = num[c] / den[c]
				}
			}
		} else {
			m.coef = fitQuadratic(img, samples, keep)
		}
		// Residuals; reject beyond 3 sigma (robust), at least 4 levels.
		res = res[:0]
		for i, p := range samples {
			if keep[i] {
				res = append(res, m.dist(img, p[0], p[1]))
			}
		}
		if len(res) == 0 {
			break
		}
		slices.Sort(res)
		m.sigma = max(1.4826*res[len(res)/2], 0.5)
		lim := max(3*m.sigma, 4)
		for i, p := range samples {
			keep[i] = m.dist(img, p[0], p[1]) <= lim
		}
	}
	// The wall's own colour: the median of the inliers.
	var ch [3][]float64
	for i, p := range samples {
		if keep[i] {
			r, g, b := img.at(p[0], p[1])
			ch[0], ch[1], ch[2] = append(ch[0], float64(r)), append(ch[1], float64(g)), append(ch[2], float64(b))
		}
	}
	for c := range ch {
		if len(ch[c]) > 0 {
			slices.Sort(ch[c])
			m.mean[c] = ch[c][len(ch[c])/2]
		}
	}
	return m
}

// dist is the RMS channel difference between the picture and the wall.
func (m *wallModel) dist(img *rgbPlane, x, y int) float64 {
	r, g, b := img.at(x, y)
	br, bg, bb := m.at(x, y)
	dr, dg, db := float64(r)-br, float64(g)-bg, float64(b)-bb
	return math.Sqrt((dr*dr + dg*dg + db*db) / 3)
}

// fitQuadratic solves the least-squares quadratic surface per channel.
func fitQuadratic(img *rgbPlane, samples [][2]int, keep []bool) [3][6]float64 {
	var ata [6][6]float64
	var atb [3][6]float64
	for i, p := range samples {
		if !keep[i] {
			continue
		}
		t := polyTerms(float64(p[0]), float64(p[1]), img.w, img.h)
		r, g, b := img.at(p[0], p[1])
		c := [3]float64{float64(r), float64(g), float64(b)}
		for j := 0; j < 6; j++ {
			for k := 0; k < 6; k++ {
				ata[j][k] += t[j] * t[k]
			}
			for ch := 0; ch < 3; ch++ {
				atb[ch][j] += t[j] * c[ch]
			}
		}
	}
	// A little ridge keeps the solve stable when the samples cover only
	// part of the picture (higher terms shrink towards 0).
	for j := 1; j < 6; j++ {
		ata[j][j] += 1e-3 * ata[0][0]
	}
	var out [3][6]float64
	for ch := 0; ch < 3; ch++ {
		out[ch] = solve6(ata, atb[ch])
	}
	return out
}

// solve6 solves a 6x6 symmetric system by Gaussian elimination with
// partial pivoting; a singular system gives the constant term only.
func solve6(a [6][6]float64, b [6]float64) [6]float64 {
	const n = 6
	for col := 0; col < n; col++ {
		p := col
		for r := col + 1; r < n; r++ {
			if math.Abs(a[r][col]) > math.Abs(a[p][col]) {
				p = r
			}
		}
		if math.Abs(a[p][col]) < 1e-12 {
			var x [6]float64
			if a[0][0] > 0 {
				x[0] = b[0] / a[0][0]
			}
			return x
		}
		a[col], a[p] = a[p], a[col]
		b[col], b[p] = b[p], b[col]
		for r := col + 1; r < n; r++ {
			f := a[r][col] / a[col][col]
			for k := col; k < n; k++ {
				a[r][k] -= f * a[col][k]
			}
			b[r] -= f * b[col]
		}
	}
	var x [6]float64
	for r := n - 1; r >= 0; r-- {
		s := b[r]
		for k := r + 1; k < n; k++ {
			s -= a[r][k] * x[k]
		}
		x[r] = s / a[r][r]
	}
	return x
}

// boxBlur averages plane (w x h, one value per pixel) over a
// (2r+1)x(2r+1) window clamped at the borders (the mean over the pixels
// inside), into dst. tmp must hold w*h values.
func boxBlur(dst, src, tmp []float32, w, h, r int) {
	// rows
	parallelRows(h, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			row := src[y*w : (y+1)*w]
			out := tmp[y*w : (y+1)*w]
			var s float32
			for x := 0; x <= min(r, w-1); x++ {
				s += row[x]
			}
			for x := 0; x < w; x++ {
				lo, hi := max(x-r, 0), min(x+r, w-1)
				out[x] = s / float32(hi-lo+1)
				if x+r+1 < w {
					s += row[x+r+1]
				}
				if x-r >= 0 {
					s -= row[x-r]
				}
			}
		}
	})
	// columns, a block of columns at a time for cache locality
	parallelRows(w, func(x0, x1 int) {
		acc := make([]float32, x1-x0)
		for i := range acc {
			acc[i] = 0
		}
		for y := 0; y <= min(r, h-1); y++ {
			for x := x0; x < x1; x++ {
				acc[x-x0] += tmp[y*w+x]
			}
		}
		for y := 0; y < h; y++ {
			lo, hi := max(y-r, 0), min(y+r, h-1)
			n := float32(hi - lo + 1)
			for x := x0; x < x1; x++ {
				dst[y*w+x] = acc[x-x0] / n
			}
			if y+r+1 < h {
				for x := x0; x < x1; x++ {
					acc[x-x0] += tmp[(y+r+1)*w+x]
				}
			}
			if y-r >= 0 {
				for x := x0; x < x1; x++ {
					acc[x-x0] -= tmp[(y-r)*w+x]
				}
			}
		}
	})
}

// guidedFilter is the colour guided filter: q = A(x) I(x) + b(x), with A
// and b the window means of the per-window linear fit of p on the guide I
// (three 0..1 channels), regularised by eps.
func guidedFilter(guide *rgbPlane, p []float32, r int, eps float32) []float32 {
	w, h := guide.w, guide.h
	n := w * h
	tmp := make([]float32, n)
	blur := func(src []float32) []float32 {
		dst := make([]float32, n)
		boxBlur(dst, src, tmp, w, h, r)
		return dst
	}
	var I [3][]float32
	for c := 0; c < 3; c++ {
		I[c] = make([]float32, n)
		for i := 0; i < n; i++ {
			I[c][i] = guide.pix[3*i+c] / 255
		}
	}
	var mI [3][]float32
	for c := range mI {
		mI[c] = blur(I[c])
	}
	mp := blur(p)
	prod := make([]float32, n)
	var covIp [3][]float32
	for c := 0; c < 3; c++ {
		for i := 0; i < n; i++ {
			prod[i] = I[c][i] * p[i]
		}
		covIp[c] = blur(prod)
		for i := 0; i < n; i++ {
			covIp[c][i] -= mI[c][i] * mp[i]
		}
	}
	// variances: rr rg rb gg gb bb
	pairs := [6][2]int{{0, 0}, {0, 1}, {0, 2}, {1, 1}, {1, 2}, {2, 2}}
	var v [6][]float32
	for k, pr := range pairs {
		for i := 0; i < n; i++ {
			prod[i] = I[pr[0]][i] * I[pr[1]][i]
		}
		v[k] = blur(prod)
		for i := 0; i < n; i++ {
			v[k][i] -= mI[pr[0]][i] * mI[pr[1]][i]
		}
	}
	var a [3][]float32
	for c := range a {
		a[c] = make([]float32, n)
	}
	b := make([]float32, n)
	parallelRows(h, func(y0, y1 int) {
		for i := y0 * w; i < y1*w; i++ {
			// Sigma + eps*U, inverted by cofactors.
			rr, rg, rb := float64(v[0][i]+eps), float64(v[1][i]), float64(v[2][i])
			gg, gb, bb := float64(v[3][i]+eps), float64(v[4][i]), float64(v[5][i]+eps)
			c00 := gg*bb - gb*gb
			c01 := gb*rb - rg*bb
			c02 := rg*gb - gg*rb
			c11 := rr*bb - rb*rb
			c12 := rb*rg - rr*gb
			c22 := rr*gg - rg*rg
			det := rr*c00 + rg*c01 + rb*c02
			if det == 0 {
				b[i] = mp[i]
				continue
			}
			x0, x1, x2 := float64(covIp[0][i]), float64(covIp[1][i]), float64(covIp[2][i])
			a0 := (c00*x0 + c01*x1 + c02*x2) / det
			a1 := (c01*x0 + c11*x1 + c12*x2) / det
			a2 := (c02*x0 + c12*x1 + c22*x2) / det
			a[0][i], a[1][i], a[2][i] = float32(a0), float32(a1), float32(a2)
			b[i] = mp[i] - float32(a0)*mI[0][i] - float32(a1)*mI[1][i] - float32(a2)*mI[2][i]
		}
	})
	ma0, ma1, ma2, mb := blur(a[0]), blur(a[1]), blur(a[2]), blur(b)
	q := make([]float32, n)
	for i := 0; i < n; i++ {
		q[i] = ma0[i]*I[0][i] + ma1[i]*I[1][i] + ma2[i]*I[2][i] + mb[i]
	}
	return q
}

// matteResult is the alpha and the decontaminated person colour.
type matteResult struct {
	alpha []float32 // 0..1 per output pixel
	fg    *rgbPlane // the person's colour where alpha > 0
	wall  *wallModel
}

const (
	clsUnknown uint8 = iota
	clsBg            // background connected to the border
	clsFg            // solid person
)

// pullMatte separates the person from the wall in img (output pixels).
func pullMatte(img, plate *rgbPlane, f faceLayout) matteResult {
	w, h := img.w, img.h
	n := w * h
	wall := fitWall(img, plate, wallSamples(w, h, f))
	tBg := max(3.5*wall.sigma+2, matteMinBgDist)
	tFg := max(float64(matteFgDistance), 2*tBg)

	// Distance to the wall and the wall's colour per pixel.
	d := make([]float32, n)
	bg := newRGBPlane(w, h)
	parallelRows(h, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			for x := 0; x < w; x++ {
				i := y*w + x
				br, bgc, bb := wall.at(x, y)
				bg.pix[3*i], bg.pix[3*i+1], bg.pix[3*i+2] = float32(br), float32(bgc), float32(bb)
				r, g, b := img.at(x, y)
				dr, dg, db := float64(r)-br, float64(g)-bgc, float64(b)-bb
				d[i] = float32(math.Sqrt((dr*dr + dg*dg + db*db) / 3))
			}
		}
	})

	// Background: near the wall and connected to the border (flood fill).
	cls := make([]uint8, n)
	queue := make([]int32, 0, n/4)
	push := func(i int) {
		if cls[i] == clsUnknown && float64(d[i]) < tBg {
			cls[i] = clsBg
			queue = append(queue, int32(i))
		}
	}
	for x := 0; x < w; x++ {
		push(x)
		push((h-1)*w + x)
	}
	for y := 0; y < h; y++ {
		push(y * w)
		push(y*w + w - 1)
	}
	for len(queue) > 0 {
		i := int(queue[len(queue)-1])
		queue = queue[:len(queue)-1]
		x, y := i%w, i/w
		if x > 0 {
			push(i - 1)
		}
		if x < w-1 {
			push(i + 1)
		}
		if y > 0 {
			push(i - w)
		}
		if y < h-1 {
			push(i + w)
		}
	}
	// Person: far from the wall, enclosed wall-like areas, and the face.
	inFace := func(x, y int) bool {
		dx := (float64(x) - f.eyeX) / (0.85 * f.ipd)
		dy := (float64(y) - (f.eyeY + 0.35*f.ipd)) / (1.15 * f.ipd)
		return dx*dx+dy*dy < 1
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := y*w + x
			switch {
			case inFace(x, y):
				cls[i] = clsFg
			case cls[i] == clsBg:
			case float64(d[i]) >= tFg || float64(d[i]) < tBg:
				cls[i] = clsFg
			}
		}
	}
	// The solid core: person pixels two pixels away from anything else.
	core := erode(cls, w, h, clsFg, 2)

	// Person colour near the boundary: the mean of nearby core pixels.
	fHat := localMean(img, core, w, h, []int{6, 24})

	// Alpha: 0 on the background, 1 in the core, the projection on the
	// wall-to-person line between.
	alpha := make([]float32, n)
	for i := 0; i < n; i++ {
		switch {
		case cls[i] == clsBg:
			alpha[i] = 0
		case core[i]:
			alpha[i] = 1
		default:
			var num, den float64
			for c := 0; c < 3; c++ {
				ib := float64(img.pix[3*i+c] - bg.pix[3*i+c])
				fb := float64(fHat.pix[3*i+c] - bg.pix[3*i+c])
				num += ib * fb
				den += fb * fb
			}
			if den < 3*tFg*tFg { // person too close to the wall's colour: use the distance
				alpha[i] = float32(clampF((float64(d[i])-tBg)/(tFg-tBg), 0, 1))
			} else {
				alpha[i] = float32(clampF(num/den, 0, 1))
			}
		}
	}
	alpha = guidedFilter(img, alpha, matteGuidedRadius, matteGuidedEps)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := y*w + x
			a := alpha[i]
			switch {
			case inFace(x, y):
				a = 1
			case a < 0.02:
				a = 0
			case a > 0.98:
				a = 1
			}
			alpha[i] = a
		}
	}
	// Pixels of the background far from any boundary stay exactly 0: the
	// filter's reach into the wall is cut where the wall is plainly wall.
	near := dilate(cls, w, h, matteGuidedRadius)
	for i := range alpha {
		if cls[i] == clsBg && !near[i] {
			alpha[i] = 0
		}
	}
	fg := decontaminate(img, bg, alpha, w, h)
	return matteResult{alpha: alpha, fg: fg, wall: wall}
}

// erode returns the pixels of class c whose (2r+1)^2 neighbourhood is all
// of class c.
func erode(cls []uint8, w, h int, c uint8, r int) []bool {
	in := make([]float32, len(cls))
	for i, v := range cls {
		if v == c {
			in[i] = 1
		}
	}
	m := make([]float32, len(cls))
	boxBlur(m, in, make([]float32, len(cls)), w, h, r)
	out := make([]bool, len(cls))
	for i, v := range m {
		out[i] = v > 0.9999
	}
	return out
}

// dilate marks the pixels within r of a pixel that is not background.
func dilate(cls []uint8, w, h, r int) []bool {
	in := make([]float32, len(cls))
	for i, v := range cls {
		if v != clsBg {
			in[i] = 1
		}
	}
	m := make([]float32, len(cls))
	boxBlur(m, in, make([]float32, len(cls)), w, h, r)
	out := make([]bool, len(cls))
	for i, v := range m {
		out[i] = v > 1e-4
	}
	return out
}

// localMean is the mean colour of the masked pixels around each pixel,
// with the first radius that finds any, and the masked pixels' global
// mean where none does.
func localMean(img *rgbPlane, mask []bool, w, h int, radii []int) *rgbPlane {
	n := w * h
	out := newRGBPlane(w, h)
	done := make([]bool, n)
	wgt := make([]float32, n)
	var glob [3]float64
	var cnt float64
	for i, m := range mask {
		if m {
			wgt[i] = 1
			for c := 0; c < 3; c++ {
				glob[c] += float64(img.pix[3*i+c])
			}
			cnt++
		}
	}
	tmp := make([]float32, n)
	mw := make([]float32, n)
	ch := make([]float32, n)
	mc := make([]float32, n)
	for _, r := range radii {
		boxBlur(mw, wgt, tmp, w, h, r)
		for c := 0; c < 3; c++ {
			for i := 0; i < n; i++ {
				ch[i] = wgt[i] * img.pix[3*i+c]
			}
			boxBlur(mc, ch, tmp, w, h, r)
			for i := 0; i < n; i++ {
				if !done[i] && mw[i] > 1e-3 {
					out.pix[3*i+c] = mc[i] / mw[i]
				}
			}
		}
		for i := 0; i < n; i++ {
			if mw[i] > 1e-3 {
				done[i] = true
			}
		}
	}
	if cnt > 0 {
		for i := 0; i < n; i++ {
			if !done[i] {
				for c := 0; c < 3; c++ {
					out.pix[3*i+c] = float32(glob[c] / cnt)
				}
			}
		}
	}
	return out
}

// decontaminate estimates the person's colour F at every pixel with alpha
// > 0, so that I = alpha F + (1 - alpha) B holds with the wall B known:
// blur fusion (Germer, Uelwer, Conrad, Harmeling 2020) with a wide then a
// narrow window. Where alpha = 1, F = I.
func decontaminate(img, bg *rgbPlane, alpha []float32, w, h int) *rgbPlane {
	n := w * h
	fg := newRGBPlane(w, h)
	copy(fg.pix, img.pix)
	tmp := make([]float32, n)
	ma := make([]float32, n)
	ch := make([]float32, n)
	mc := make([]float32, n)
	for _, r := range []int{24, 4} {
		boxBlur(ma, alpha, tmp, w, h, r)
		for c := 0; c < 3; c++ {
			for i := 0; i < n; i++ {
				ch[i] = alpha[i] * fg.pix[3*i+c]
			}
			boxBlur(mc, ch, tmp, w, h, r)
			for i := 0; i < n; i++ {
				a := alpha[i]
				if a <= 0 || a >= 1 {
					continue
				}
				fh := fg.pix[3*i+c]
				if ma[i] > 1e-4 {
					fh = mc[i] / ma[i]
				}
				v := fh + a*(img.pix[3*i+c]-a*fh-(1-a)*bg.pix[3*i+c])
				fg.pix[3*i+c] = min(max(v, 0), 255)
			}
		}
	}
	return fg
}
