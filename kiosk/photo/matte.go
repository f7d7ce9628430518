package photo

import (
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
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
//
// Cost: everything runs on the output picture (480x640), and the local
// statistics of steps 3 and 4 only where they can change anything: the
// guided filter within 2 radii of alpha's edges (elsewhere it returns its
// input exactly), the person colour at the unknown pixels, the
// decontamination at the soft ones. The box means are sliding window sums
// (slideBox), so a radius of 24 costs what a radius of 4 does; scratch
// masks come from a pool.

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
	return m.atTerms(polyTerms(float64(x), float64(y), m.w, m.h))
}

// atTerms is the quadratic surface at the point of the terms t.
func (m *wallModel) atTerms(t [6]float64) (r, g, b float64) {
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
	dist := make([]float64, len(samples))
	// The samples' terms of the surface, and colours, do not change from
	// round to round.
	var terms [][6]float64
	cols := make([][3]float64, len(samples))
	for i, p := range samples {
		r, g, b := img.at(p[0], p[1])
		cols[i] = [3]float64{float64(r), float64(g), float64(b)}
	}
	if plate == nil {
		terms = make([][6]float64, len(samples))
		for i, p := range samples {
			terms[i] = polyTerms(float64(p[0]), float64(p[1]), img.w, img.h)
		}
	}
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
			m.coef = fitQuadratic(terms, cols, keep)
		}
		// Residuals; reject beyond 3 sigma (robust), at least 4 levels.
		res = res[:0]
		for i, p := range samples {
			var br, bg, bb float64
			if plate != nil {
				br, bg, bb = m.at(p[0], p[1])
			} else {
				br, bg, bb = m.atTerms(terms[i])
			}
			c := cols[i]
			dr, dg, db := c[0]-br, c[1]-bg, c[2]-bb
			dist[i] = math.Sqrt((dr*dr + dg*dg + db*db) / 3)
			if keep[i] {
				res = append(res, dist[i])
			}
		}
		if len(res) == 0 {
			break
		}
		m.sigma = max(1.4826*nthSmallest(res, len(res)/2), 0.5)
		lim := max(3*m.sigma, 4)
		for i := range samples {
			keep[i] = dist[i] <= lim
		}
	}
	// The wall's own colour: the median of the inliers.
	var ch [3][]float64
	for i, c := range cols {
		if keep[i] {
			ch[0], ch[1], ch[2] = append(ch[0], c[0]), append(ch[1], c[1]), append(ch[2], c[2])
		}
	}
	for c := range ch {
		if len(ch[c]) > 0 {
			m.mean[c] = nthSmallest(ch[c], len(ch[c])/2)
		}
	}
	return m
}

// nthSmallest returns the k-th smallest value of a (0-based: what a[k]
// would be after sorting), reordering a: quickselect, linear on average.
func nthSmallest(a []float64, k int) float64 {
	lo, hi := 0, len(a)-1
	for lo < hi {
		// median of three as the pivot
		mid := lo + (hi-lo)/2
		if a[mid] < a[lo] {
			a[mid], a[lo] = a[lo], a[mid]
		}
		if a[hi] < a[lo] {
			a[hi], a[lo] = a[lo], a[hi]
		}
		if a[hi] < a[mid] {
			a[hi], a[mid] = a[mid], a[hi]
		}
		pv := a[mid]
		i, j := lo, hi
		for i <= j {
			for a[i] < pv {
				i++
			}
			for a[j] > pv {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return a[k]
		}
	}
	return a[k]
}

// fitQuadratic solves the least-squares quadratic surface per channel,
// from the kept samples' terms and colours.
func fitQuadratic(terms [][6]float64, cols [][3]float64, keep []bool) [3][6]float64 {
	var ata [6][6]float64
	var atb [3][6]float64
	for i, t := range terms {
		if !keep[i] {
			continue
		}
		c := cols[i]
		for j := 0; j < 6; j++ {
			for k := j; k < 6; k++ { // symmetric: the lower half below
				ata[j][k] += t[j] * t[k]
			}
			for ch := 0; ch < 3; ch++ {
				atb[ch][j] += t[j] * c[ch]
			}
		}
	}
	for j := 1; j < 6; j++ {
		for k := 0; k < j; k++ {
			ata[j][k] = ata[k][j]
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

// row writes the modelled wall colour of row y (w pixels, RGB
// interleaved) into dst: the quadratic surface is a quadratic in x along a
// row, so a pixel costs three multiply-adds per channel.
func (m *wallModel) row(y int, dst []float32) {
	if m.plate != nil {
		src := m.plate.pix[3*y*m.w : 3*(y+1)*m.w]
		g := [3]float32{float32(m.gain[0]), float32(m.gain[1]), float32(m.gain[2])}
		for i := range dst[:3*m.w] {
			dst[i] = g[i%3] * src[i]
		}
		return
	}
	v := 2*float64(y)/float64(m.h) - 1
	var a, b, c [3]float64
	for ch := range a {
		k := &m.coef[ch]
		a[ch] = k[0] + k[2]*v + k[5]*v*v
		b[ch] = k[1] + k[4]*v
		c[ch] = k[3]
	}
	du := 2 / float64(m.w)
	for x := 0; x < m.w; x++ {
		u := float64(x)*du - 1
		for ch := 0; ch < 3; ch++ {
			dst[3*x+ch] = float32(a[ch] + u*(b[ch]+c[ch]*u))
		}
	}
}

// Box means. The matte's local statistics are box means (window
// (2r+1)^2, clamped at the picture's edges: the mean over the pixels
// inside), but they are needed only near the person's edge: away from it
// alpha is exactly 0 or 1 and every statistic is flat. Sliding windows
// (slideBox) cost a few additions per pixel whatever the radius, and
// boxStrips runs them only over the column strips and rows that hold a
// pixel needing a mean. Masks are counted over windows with summed-area
// tables (satCount): four reads per window.

// box is a rectangle [x0, x1) x [y0, y1) of the picture.
type box struct{ x0, y0, x1, y1 int }

func (b box) empty() bool { return b.x1 <= b.x0 || b.y1 <= b.y0 }

// grow returns b widened by r on every side, clipped to w x h.
func (b box) grow(r, w, h int) box {
	return box{max(b.x0-r, 0), max(b.y0-r, 0), min(b.x1+r, w), min(b.y1+r, h)}
}

// slideBox gives box means of k planes with radius r row after row: the
// column sums over a window of 2r+1 rows slide down the picture (a ring
// of those rows is kept), and a window sum slides along the row. Memory
// is a few rows of its columns, whatever the picture's size. Rows must be
// visited in increasing order.
type slideBox struct {
	w, h, k, r int
	x0, x1     int // the summed columns; windows must lie inside
	fill       func(y int, row []float64)
	ring       []float64 // 2r+1 rows of k*(x1-x0) values
	col, win   []float64 // column sums; the window sum at lastX
	tmp        []float64 // one row of values
	y, lastX   int       // the row whose window is summed (-1 before the first), the last mean's x
}

func newSlideBox(w, h, k, r, x0, x1 int, fill func(y int, row []float64)) *slideBox {
	s := &slideBox{w: w, h: h, k: k, r: r, win: make([]float64, k)}
	s.reset(x0, x1, fill)
	return s
}

// reset makes s sum the columns [x0, x1) of new rows, reusing its memory.
func (s *slideBox) reset(x0, x1 int, fill func(y int, row []float64)) {
	n := s.k * (x1 - x0)
	s.x0, s.x1, s.fill, s.y, s.lastX = x0, x1, fill, -1, -2
	s.ring = growF64(s.ring, (2*s.r+1)*n)
	s.col, s.tmp = growF64(s.col, n), growF64(s.tmp, n)
}

func growF64(b []float64, n int) []float64 {
	if cap(b) < n {
		return make([]float64, n)
	}
	return b[:n]
}

// slot is the ring row holding picture row y.
func (s *slideBox) slot(y int) []float64 {
	n := s.k * (s.x1 - s.x0)
	i := y % (2*s.r + 1)
	return s.ring[i*n : (i+1)*n]
}

func (s *slideBox) add(y int, sign float64) {
	row := s.slot(y)
	col := s.col[:len(row)]
	for i, v := range row {
		col[i] += sign * v
	}
}

// seek makes the means of row y available.
func (s *slideBox) seek(y int) {
	r, last := s.r, s.h-1
	if s.y < 0 || y-s.y > 2*r+1 {
		clear(s.col)
		for yy := max(y-r, 0); yy <= min(y+r, last); yy++ {
			s.fill(yy, s.slot(yy))
			s.add(yy, 1)
		}
	} else {
		for yy := s.y + 1; yy <= y; yy++ {
			out, in := yy-r-1, yy+r
			switch {
			case out >= 0 && in <= last:
				// the entering row takes the leaving row's slot
				s.fill(in, s.tmp)
				slot := s.slot(in)
				col, tmp := s.col[:len(slot)], s.tmp[:len(slot)]
				for i, old := range slot {
					col[i] += tmp[i] - old
					slot[i] = tmp[i]
				}
			case out >= 0:
				s.add(out, -1)
			case in <= last:
				s.fill(in, s.slot(in))
				s.add(in, 1)
			}
		}
	}
	s.y = y
	s.lastX = -2
}

// mean writes the k means of the clamped window at (x, s.y) into out.
// Pixels visited left to right along a run slide the window sum by one
// column; any other pixel sums its window afresh.
func (s *slideBox) mean(x int, out []float64) {
	k, r := s.k, s.r
	win := s.win[:k]
	if x == s.lastX+1 {
		if c := x + r; c < s.w {
			col := s.col[(c-s.x0)*k : (c-s.x0+1)*k]
			for i, v := range col {
				win[i] += v
			}
		}
		if c := x - r - 1; c >= 0 {
			col := s.col[(c-s.x0)*k : (c-s.x0+1)*k]
			for i, v := range col {
				win[i] -= v
			}
		}
	} else {
		clear(win)
		for c := max(x-r, 0); c < min(x+r+1, s.w); c++ {
			col := s.col[(c-s.x0)*k : (c-s.x0+1)*k]
			for i, v := range col {
				win[i] += v
			}
		}
	}
	s.lastX = x
	x0, x1 := max(x-r, 0), min(x+r+1, s.w)
	rows := min(s.y+r, s.h-1) - max(s.y-r, 0) + 1
	inv := 1 / float64((x1-x0)*rows)
	for c := range out[:k] {
		out[c] = win[c] * inv
	}
}

// boxStrips evaluates box means of k planes with radius r where they are
// needed. The columns [x0, x1) are cut into strips (48 columns, or 4r when
// that is wider); a strip visits only the rows of [y0, y1) for which
// need(sx0, sx1, y) holds, with a sliding window over its own columns and
// the radius around them. Near the person's outline, where the matte's
// statistics are needed, that is a small part of the picture. Strips are
// shared among goroutines: fill(y, c0, c1, row) writes the k values of
// the columns [c0, c1) of row y at row[(x-c0)*k:] and may only read;
// eval(y, sx0, sx1, s) evaluates the row's pixels in [sx0, sx1) with
// s.mean and writes only their results.
func boxStrips(w, h, k, r, x0, x1, y0, y1 int, need func(sx0, sx1, y int) bool,
	fill func(y, c0, c1 int, row []float64), eval func(y, sx0, sx1 int, s *slideBox)) {
	if x1 <= x0 || y1 <= y0 {
		return
	}
	sw := max(48, 4*r)
	strips := (x1 - x0 + sw - 1) / sw
	var next atomic.Int32
	work := func() {
		var s *slideBox
		for {
			i := int(next.Add(1)) - 1
			if i >= strips {
				return
			}
			sx0 := x0 + i*sw
			sx1 := min(sx0+sw, x1)
			c0, c1 := max(sx0-r, 0), min(sx1+r, w)
			rowFill := func(y int, row []float64) { fill(y, c0, c1, row) }
			started := false
			for y := y0; y < y1; y++ {
				if !need(sx0, sx1, y) {
					continue
				}
				if !started {
					if s == nil {
						s = newSlideBox(w, h, k, r, c0, c1, rowFill)
					} else {
						s.reset(c0, c1, rowFill)
					}
					started = true
				}
				s.seek(y)
				eval(y, sx0, sx1, s)
			}
		}
	}
	workers := min(runtime.GOMAXPROCS(0), 4, strips)
	var g group
	for range workers - 1 {
		g.start(work)
	}
	g.guard(work)
	g.wait()
}

// anySet reports whether mask row y has a pixel equal to v in [x0, x1).
func anySet(mask []uint8, w, y, x0, x1 int, v uint8) bool {
	return slices.Contains(mask[y*w+x0:y*w+x1], v)
}

// satCount counts the set pixels of a 0/1 mask over any window.
type satCount struct {
	w, h int
	s    []int32
}

func (t *satCount) build(mask []uint8, w, h int, buf *[]int32) {
	t.w, t.h = w, h
	n := (w + 1) * (h + 1)
	if cap(*buf) < n {
		*buf = make([]int32, n)
	}
	t.s = (*buf)[:n]
	st := w + 1
	clear(t.s[:st])
	// Each row's running count, then down the columns: both passes split
	// among the CPUs (rows, then column bands).
	parallelRows(h, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			cur := t.s[(y+1)*st : (y+2)*st]
			cur[0] = 0
			var run int32
			for x, v := range mask[y*w : (y+1)*w] {
				run += int32(v)
				cur[x+1] = run
			}
		}
	})
	parallelRows(st, func(x0, x1 int) {
		for y := 1; y < h; y++ {
			prev := t.s[y*st+x0 : y*st+x1]
			cur := t.s[(y+1)*st+x0 : (y+1)*st+x1][:len(prev)]
			for x, p := range prev {
				cur[x] += p
			}
		}
	})
}

// any reports whether a pixel of [x0, x1) x [y0, y1), clamped to the
// picture, is set.
func (t *satCount) any(x0, y0, x1, y1 int) bool {
	x0, x1 = max(x0, 0), min(x1, t.w)
	y0, y1 = max(y0, 0), min(y1, t.h)
	if x1 <= x0 || y1 <= y0 {
		return false
	}
	s, st := t.s, t.w+1
	return s[y1*st+x1]-s[y0*st+x1]-s[y1*st+x0]+s[y0*st+x0] > 0
}

// count returns the set pixels in the clamped window of radius r at (x,
// y) and the window's area.
func (t *satCount) count(x, y, r int) (n, area int) {
	x0, x1 := max(x-r, 0), min(x+r+1, t.w)
	y0, y1 := max(y-r, 0), min(y+r+1, t.h)
	s, st := t.s, t.w+1
	return int(s[y1*st+x1] - s[y0*st+x1] - s[y1*st+x0] + s[y0*st+x0]), (x1 - x0) * (y1 - y0)
}

func growU8(buf *[]uint8, n int) []uint8 {
	if cap(*buf) < n {
		*buf = make([]uint8, n)
	}
	return (*buf)[:n]
}

// matteScratch holds the matte's working buffers between photos; the
// pool hands one to each pullMatte call.
type matteScratch struct {
	ab                 []float32
	mask, mask2, mask3 []uint8
	cnt, cnt2          []int32
}

var mattePool = sync.Pool{New: func() any { return new(matteScratch) }}

// maskBox is the bounding box of the set pixels of mask.
func maskBox(mask []uint8, w, h int) box {
	return maskBoxEq(mask, w, h, 0)
}

// maskBoxEq is the bounding box of the pixels of mask equal to v, or of
// the non-zero ones when v is 0.
func maskBoxEq(mask []uint8, w, h int, v uint8) box {
	is := func(m uint8) bool { return m != 0 && (v == 0 || m == v) }
	b := box{w, h, 0, 0}
	for y := 0; y < h; y++ {
		row := mask[y*w : (y+1)*w]
		first := -1
		for x, m := range row {
			if is(m) {
				first = x
				break
			}
		}
		if first < 0 {
			continue
		}
		last := first
		for x := w - 1; x > first; x-- {
			if is(row[x]) {
				last = x
				break
			}
		}
		b.x0, b.x1 = min(b.x0, first), max(b.x1, last+1)
		b.y0, b.y1 = min(b.y0, y), max(b.y1, y+1)
	}
	return b
}

// guidedFilter is the colour guided filter (He, Sun, Tang): q = A(x) I(x)
// + b(x), with A and b the window means of the per-window linear fit of p
// on the guide I (three 0..1 channels), regularised by eps. Where p is
// constant within 2r of a pixel, every window around it fits A = 0, b = p
// and q = p: the filter is evaluated only within 2r of p's edges.
func guidedFilter(guide *rgbPlane, p []float32, r int, eps float32, sc *matteScratch) []float32 {
	w, h := guide.w, guide.h
	n := w * h
	q := make([]float32, n)
	copy(q, p)
	// Edge pixels: p differs from a 4-neighbour.
	e := growU8(&sc.mask, n)
	parallelRows(h, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			for x := 0; x < w; x++ {
				i := y*w + x
				v := p[i]
				e[i] = b2u(x > 0 && p[i-1] != v || x+1 < w && p[i+1] != v ||
					y > 0 && p[i-w] != v || y+1 < h && p[i+w] != v)
			}
		}
	})
	eb := maskBox(e, w, h)
	if eb.empty() {
		return q
	}
	var ec satCount
	ec.build(e, w, h, &sc.cnt)
	near := func(x, y, d int) bool { c, _ := ec.count(x, y, d); return c > 0 }
	const (
		kR, kG, kB, kP               = 0, 1, 2, 3
		kRP, kGP, kBP                = 4, 5, 6
		kRR, kRG, kRB, kGG, kGB, kBB = 7, 8, 9, 10, 11, 12
		nk                           = 13
	)
	fillStats := func(y, c0, c1 int, row []float64) {
		for x := c0; x < c1; x++ {
			i := y*w + x
			r, g, b := float64(guide.pix[3*i])/255, float64(guide.pix[3*i+1])/255, float64(guide.pix[3*i+2])/255
			pv := float64(p[i])
			o := row[(x-c0)*nk : (x-c0+1)*nk]
			o[kR], o[kG], o[kB], o[kP] = r, g, b, pv
			o[kRP], o[kGP], o[kBP] = r*pv, g*pv, b*pv
			o[kRR], o[kRG], o[kRB], o[kGG], o[kGB], o[kBB] = r*r, r*g, r*b, g*g, g*b, b*b
		}
	}
	// a, b are read on the pixels within 3r of an edge (the windows of
	// the pixels within 2r). Within r they are the fit on the window's
	// statistics, kept in ab; beyond, p is constant over the window and
	// the fit is a = 0, b = p, which fillAB gives without storing it.
	areg := eb.grow(3*r, w, h)
	aw := areg.x1 - areg.x0
	ab := growF32(&sc.ab, 4*aw*(areg.y1-areg.y0)) // read only where written
	fe := float64(eps)
	edgeWithin := func(d int) func(sx0, sx1, y int) bool {
		return func(sx0, sx1, y int) bool { return ec.any(sx0-d, y-d, sx1+d, y+d+1) }
	}
	boxStrips(w, h, nk, r, areg.x0, areg.x1, areg.y0, areg.y1, edgeWithin(r), fillStats, func(y, sx0, sx1 int, s *slideBox) {
		var m [nk]float64
		v := y - areg.y0
		for x := sx0; x < sx1; x++ {
			if !near(x, y, r) {
				continue
			}
			o := ab[4*(v*aw+x-areg.x0):]
			s.mean(x, m[:])
			mp := m[kP]
			x0 := m[kRP] - m[kR]*mp
			x1 := m[kGP] - m[kG]*mp
			x2 := m[kBP] - m[kB]*mp
			// Sigma + eps*U, inverted by cofactors.
			rr := m[kRR] - m[kR]*m[kR] + fe
			rg := m[kRG] - m[kR]*m[kG]
			rb := m[kRB] - m[kR]*m[kB]
			gg := m[kGG] - m[kG]*m[kG] + fe
			gb := m[kGB] - m[kG]*m[kB]
			bb := m[kBB] - m[kB]*m[kB] + fe
			c00 := gg*bb - gb*gb
			c01 := gb*rb - rg*bb
			c02 := rg*gb - gg*rb
			c11 := rr*bb - rb*rb
			c12 := rb*rg - rr*gb
			c22 := rr*gg - rg*rg
			det := rr*c00 + rg*c01 + rb*c02
			if det == 0 {
				o[0], o[1], o[2], o[3] = 0, 0, 0, float32(mp)
				continue
			}
			a0 := (c00*x0 + c01*x1 + c02*x2) / det
			a1 := (c01*x0 + c11*x1 + c12*x2) / det
			a2 := (c02*x0 + c12*x1 + c22*x2) / det
			o[0], o[1], o[2], o[3] = float32(a0), float32(a1), float32(a2), float32(mp-a0*m[kR]-a1*m[kG]-a2*m[kB])
		}
	})
	fillAB := func(y, c0, c1 int, row []float64) {
		base := 4 * ((y-areg.y0)*aw - areg.x0)
		for x := c0; x < c1; x++ {
			o := row[4*(x-c0) : 4*(x-c0)+4 : 4*(x-c0)+4]
			if !near(x, y, r) {
				o[0], o[1], o[2], o[3] = 0, 0, 0, float64(p[y*w+x])
				continue
			}
			v := ab[base+4*x : base+4*x+4 : base+4*x+4]
			o[0], o[1], o[2], o[3] = float64(v[0]), float64(v[1]), float64(v[2]), float64(v[3])
		}
	}
	qreg := eb.grow(2*r, w, h)
	boxStrips(w, h, 4, r, qreg.x0, qreg.x1, qreg.y0, qreg.y1, edgeWithin(2*r), fillAB, func(y, sx0, sx1 int, s *slideBox) {
		var m [4]float64
		for x := sx0; x < sx1; x++ {
			if !near(x, y, 2*r) {
				continue
			}
			s.mean(x, m[:])
			i := y*w + x
			v := m[0]*float64(guide.pix[3*i])/255 + m[1]*float64(guide.pix[3*i+1])/255 + m[2]*float64(guide.pix[3*i+2])/255 + m[3]
			q[i] = float32(v)
		}
	})
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
	sc := mattePool.Get().(*matteScratch)
	defer mattePool.Put(sc)
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
			brow := bg.pix[3*y*w : 3*(y+1)*w]
			wall.row(y, brow)
			irow := img.pix[3*y*w : 3*(y+1)*w]
			drow := d[y*w : (y+1)*w]
			for x := range drow {
				dr, dg, db := irow[3*x]-brow[3*x], irow[3*x+1]-brow[3*x+1], irow[3*x+2]-brow[3*x+2]
				drow[x] = float32(math.Sqrt(float64(dr*dr+dg*dg+db*db) / 3))
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
	core := erode(cls, w, h, clsFg, 2, sc)

	// Person colour near the boundary: the mean of nearby core pixels,
	// needed only where alpha is unknown.
	fHat := localMean(img, core, cls, w, h, []int{6, 24}, sc)

	// Alpha: 0 on the background, 1 in the core, the projection on the
	// wall-to-person line between.
	alpha := make([]float32, n)
	for i := 0; i < n; i++ {
		switch {
		case cls[i] == clsBg:
			alpha[i] = 0
		case core[i] != 0:
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
	alpha = guidedFilter(img, alpha, matteGuidedRadius, matteGuidedEps, sc)
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
	near := dilate(cls, w, h, matteGuidedRadius, sc)
	for i := range alpha {
		if cls[i] == clsBg && near[i] == 0 {
			alpha[i] = 0
		}
	}
	fg := decontaminate(img, bg, alpha, w, h, sc)
	return matteResult{alpha: alpha, fg: fg, wall: wall}
}

// erode returns 1 for the pixels of class c whose (2r+1)^2 neighbourhood
// (clamped at the edges) is all of class c. The result is sc.mask2.
func erode(cls []uint8, w, h int, c uint8, r int, sc *matteScratch) []uint8 {
	in := growU8(&sc.mask, len(cls))
	for i, v := range cls {
		in[i] = b2u(v == c)
	}
	var t satCount
	t.build(in, w, h, &sc.cnt2)
	out := growU8(&sc.mask2, len(cls))
	parallelRows(h, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			for x := 0; x < w; x++ {
				k, area := t.count(x, y, r)
				out[y*w+x] = b2u(k == area)
			}
		}
	})
	return out
}

// dilate marks the pixels within r of a pixel that is not background.
// The result is sc.mask (erode's result is no longer needed).
func dilate(cls []uint8, w, h, r int, sc *matteScratch) []uint8 {
	in := growU8(&sc.mask2, len(cls))
	for i, v := range cls {
		in[i] = b2u(v != clsBg)
	}
	var t satCount
	t.build(in, w, h, &sc.cnt2)
	out := growU8(&sc.mask, len(cls))
	parallelRows(h, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			for x := 0; x < w; x++ {
				k, _ := t.count(x, y, r)
				out[y*w+x] = b2u(k > 0)
			}
		}
	})
	return out
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// localMean is the mean colour of the masked pixels around each pixel
// whose class is unknown (the only ones that read it), with the first
// radius whose window holds any (more than a thousandth of the window),
// and the masked pixels' global mean where none does. Other pixels are 0.
func localMean(img *rgbPlane, mask []uint8, cls []uint8, w, h int, radii []int, sc *matteScratch) *rgbPlane {
	out := newRGBPlane(w, h)
	need := growU8(&sc.mask3, w*h)
	for i, c := range cls {
		need[i] = b2u(c != clsBg && mask[i] == 0)
	}
	nb := maskBox(need, w, h)
	if nb.empty() {
		return out
	}
	var glob [3]float64
	var cnt float64
	for i, m := range mask {
		if m != 0 {
			for c := 0; c < 3; c++ {
				glob[c] += float64(img.pix[3*i+c])
			}
			cnt++
		}
	}
	fill := func(y, c0, c1 int, row []float64) {
		for x := c0; x < c1; x++ {
			i := y*w + x
			o := row[4*(x-c0) : 4*(x-c0+1)]
			if mask[i] == 0 {
				o[0], o[1], o[2], o[3] = 0, 0, 0, 0
				continue
			}
			o[0], o[1], o[2], o[3] = 1, float64(img.pix[3*i]), float64(img.pix[3*i+1]), float64(img.pix[3*i+2])
		}
	}
	// need: 1 waiting, 2 served by a radius.
	for _, r := range radii {
		if nb = maskBoxEq(need, w, h, 1); nb.empty() {
			break
		}
		waiting := func(sx0, sx1, y int) bool { return anySet(need, w, y, sx0, sx1, 1) }
		boxStrips(w, h, 4, r, nb.x0, nb.x1, nb.y0, nb.y1, waiting, fill, func(y, sx0, sx1 int, s *slideBox) {
			var m [4]float64
			for x := sx0; x < sx1; x++ {
				i := y*w + x
				if need[i] != 1 {
					continue
				}
				s.mean(x, m[:])
				if m[0] > 1e-3 {
					for c := 0; c < 3; c++ {
						out.pix[3*i+c] = float32(m[1+c] / m[0])
					}
					need[i] = 2
				}
			}
		})
	}
	if cnt > 0 {
		for i, v := range need {
			if v == 1 {
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
// narrow window. Where alpha = 1, F = I; only the soft pixels (0 < alpha
// < 1) are estimated.
func decontaminate(img, bg *rgbPlane, alpha []float32, w, h int, sc *matteScratch) *rgbPlane {
	fg := newRGBPlane(w, h)
	copy(fg.pix, img.pix)
	soft := growU8(&sc.mask2, w*h)
	for i, a := range alpha {
		soft[i] = b2u(a > 0 && a < 1)
	}
	sb := maskBox(soft, w, h)
	if sb.empty() {
		return fg
	}
	radii := [2]int{24, 4}
	src := newRGBPlane(w, h) // the previous pass's colours, read by the windows
	for _, r := range radii {
		copy(src.pix, fg.pix)
		fill := func(y, c0, c1 int, row []float64) {
			for x := c0; x < c1; x++ {
				i := y*w + x
				a := float64(alpha[i])
				o := row[4*(x-c0) : 4*(x-c0+1)]
				o[0], o[1], o[2], o[3] = a, a*float64(src.pix[3*i]), a*float64(src.pix[3*i+1]), a*float64(src.pix[3*i+2])
			}
		}
		isSoft := func(sx0, sx1, y int) bool { return anySet(soft, w, y, sx0, sx1, 1) }
		boxStrips(w, h, 4, r, sb.x0, sb.x1, sb.y0, sb.y1, isSoft, fill, func(y, sx0, sx1 int, s *slideBox) {
			var m [4]float64
			for x := sx0; x < sx1; x++ {
				i := y*w + x
				if soft[i] == 0 {
					continue
				}
				s.mean(x, m[:])
				a := alpha[i]
				for c := 0; c < 3; c++ {
					fh := src.pix[3*i+c]
					if m[0] > 1e-4 {
						fh = float32(m[1+c] / m[0])
					}
					v := fh + a*(img.pix[3*i+c]-a*fh-(1-a)*bg.pix[3*i+c])
					fg.pix[3*i+c] = min(max(v, 0), 255)
				}
			}
		})
	}
	return fg
}
