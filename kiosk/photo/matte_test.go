package photo_test

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"kioskd/kiosk/photo"
)

// hairFrame is a composed frame with its exact alpha and person colour
// (frame pixels): the fixture's head with its edge colours cleaned of the
// fixture's own wall, plus fine stray hairs with antialiased coverage.
type hairFrame struct {
	img   *image.NRGBA
	alpha []float64
	w, h  int
}

var strandColour = [3]float64{48, 36, 30}

// haloSlack is the allowance (levels) for JPEG ringing around thin dark
// hairs on the flat background.
var haloSlack = 20.0

// cleanPortrait returns a copy of p whose edge is exact: the fixture's own
// matte calls some mixed edge pixels solid, so every pixel within 4 px of
// the edge gets the colour F of the solid pixels further in and the alpha
// that explains its colour as alpha F + (1 - alpha) wall, the fixture's
// wall. Alpha then says how much of a pixel is person.
func cleanPortrait(p *portrait) *portrait {
	c := *p
	c.img = image.NewNRGBA(p.img.Rect)
	copy(c.img.Pix, p.img.Pix)
	c.alpha = append([]float32(nil), p.alpha...)
	w, h := p.img.Rect.Dx(), p.img.Rect.Dy()
	var wall [3]float64
	for y := 0; y < 12; y++ {
		for _, x := range []int{2, 5, 8, w - 9, w - 6, w - 3} {
			i := p.img.PixOffset(x, y)
			for ch := 0; ch < 3; ch++ {
				wall[ch] += float64(p.img.Pix[i+ch]) / 72
			}
		}
	}
	solid := func(x, y, r int) bool {
		for yy := max(y-r, 0); yy < min(y+r+1, h); yy++ {
			for xx := max(x-r, 0); xx < min(x+r+1, w); xx++ {
				if p.alpha[yy*w+xx] < 1 {
					return false
				}
			}
		}
		return true
	}
	core := make([]bool, w*h)
	for y := 0; y < int(p.cutY); y++ {
		for x := 0; x < w; x++ {
			core[y*w+x] = solid(x, y, 4)
		}
	}
	for y := 0; y < int(p.cutY); y++ {
		for x := 0; x < w; x++ {
			if p.alpha[y*w+x] <= 0 || core[y*w+x] {
				continue
			}
			var f [3]float64
			n := 0.0
			for yy := max(y-7, 0); yy < min(y+8, h); yy++ {
				for xx := max(x-7, 0); xx < min(x+8, w); xx++ {
					if core[yy*w+xx] {
						i := p.img.PixOffset(xx, yy)
						for ch := 0; ch < 3; ch++ {
							f[ch] += float64(p.img.Pix[i+ch])
						}
						n++
					}
				}
			}
			if n == 0 {
				continue
			}
			i := c.img.PixOffset(x, y)
			var num, den float64
			for ch := 0; ch < 3; ch++ {
				f[ch] /= n
				num += (float64(p.img.Pix[i+ch]) - wall[ch]) * (f[ch] - wall[ch])
				den += (f[ch] - wall[ch]) * (f[ch] - wall[ch])
				c.img.Pix[i+ch] = uint8(f[ch] + 0.5)
			}
			if den > 0 {
				c.alpha[y*w+x] = float32(clamp01(num / den))
			}
		}
	}
	return &c
}

// composeHair renders scene s (upright, no defects) with n stray hairs.
func composeHair(p *portrait, s scene, n int) hairFrame {
	pc := cleanPortrait(p)
	k := s.IPD / pc.ipd()
	th := (s.Roll - pc.roll()) * math.Pi / 180
	cos, sin := math.Cos(th), math.Sin(th)
	m := pc.eyeMid()
	pw, ph := pc.img.Rect.Dx(), pc.img.Rect.Dy()
	toPortrait := func(x, y float64) (float64, float64) {
		dx, dy := x-s.EyeX, y-s.EyeY
		return m.X + (dx*cos+dy*sin)/k, m.Y + (-dx*sin+dy*cos)/k
	}
	personAt := func(x, y float64) ([3]float64, float64) {
		u, v := toPortrait(x, y)
		return s.person(pc, u, v, pw, ph)
	}
	// Stray hairs: from just inside the hair outline, outwards.
	strands := make([]float64, s.W*s.H) // coverage
	rng := rand.New(rand.NewPCG(s.Seed, 11))
	cx, cy := s.EyeX, s.EyeY-0.35*s.IPD
	for i := 0; i < n; i++ {
		// flyaways at the sides and temples (the crown's own measure is
		// the analysis's business, not the matte's)
		ang := (195 + 55*rng.Float64()) * math.Pi / 180
		if i%2 == 1 {
			ang = (290 + 55*rng.Float64()) * math.Pi / 180
		}
		dx, dy := math.Cos(ang), math.Sin(ang)
		r := 0.0
		for r < 3*s.IPD {
			if _, a := personAt(cx+r*dx, cy+r*dy); a < 0.5 {
				break
			}
			r += 0.5
		}
		x0, y0 := cx+(r-4)*dx, cy+(r-4)*dy
		length := (0.12 + 0.25*rng.Float64()) * s.IPD
		bend := (rng.Float64() - 0.5) * 0.5 * length
		x2, y2 := x0+length*dx, y0+length*dy
		x1, y1 := (x0+x2)/2-bend*dy, (y0+y2)/2+bend*dx
		wd := 0.6 + 0.8*rng.Float64()
		const seg = 40
		pts := make([][2]float64, seg+1)
		for j := range pts {
			t := float64(j) / seg
			pts[j] = [2]float64{(1-t)*(1-t)*x0 + 2*(1-t)*t*x1 + t*t*x2, (1-t)*(1-t)*y0 + 2*(1-t)*t*y1 + t*t*y2}
		}
		bx0, bx1 := int(min(x0, x1, x2))-2, int(max(x0, x1, x2))+3
		by0, by1 := int(min(y0, y1, y2))-2, int(max(y0, y1, y2))+3
		for y := max(by0, 0); y < min(by1, s.H); y++ {
			for x := max(bx0, 0); x < min(bx1, s.W); x++ {
				d := math.Inf(1)
				for j := 0; j < seg; j++ {
					d = min(d, segDist(float64(x), float64(y), pts[j], pts[j+1]))
				}
				cov := clamp01(0.5 + wd/2 - d)
				cov = min(cov, min(wd, 1))
				strands[y*s.W+x] = 1 - (1-strands[y*s.W+x])*(1-cov)
			}
		}
	}
	f := hairFrame{img: image.NewNRGBA(image.Rect(0, 0, s.W, s.H)), alpha: make([]float64, s.W*s.H), w: s.W, h: s.H}
	for y := 0; y < s.H; y++ {
		for x := 0; x < s.W; x++ {
			wall := [3]float64{float64(s.Wall.R), float64(s.Wall.G), float64(s.Wall.B)}
			fall := 1 - 0.02*math.Abs(float64(x)-float64(s.W)/2)/float64(s.W)
			col, a := personAt(float64(x), float64(y))
			as := strands[y*s.W+x]
			alpha := 1 - (1-a)*(1-as)
			i := f.img.PixOffset(x, y)
			for c := 0; c < 3; c++ {
				v := a*col[c] + (1-a)*as*strandColour[c] + (1-alpha)*wall[c]*fall
				v += rng.NormFloat64() * s.Noise
				f.img.Pix[i+c] = uint8(max(0, min(255, math.Round(v))))
			}
			f.img.Pix[i+3] = 255
			f.alpha[y*s.W+x] = alpha
		}
	}
	return f
}

func segDist(x, y float64, a, b [2]float64) float64 {
	dx, dy := b[0]-a[0], b[1]-a[1]
	t := clamp01(((x-a[0])*dx + (y-a[1])*dy) / (dx*dx + dy*dy + 1e-12))
	return math.Hypot(x-a[0]-t*dx, y-a[1]-t*dy)
}

// outputAlpha is the true alpha of output pixel (ox, oy): the frame's
// alpha averaged over the pixel's footprint.
func (f hairFrame) outputAlpha(pl photo.Plan, ox, oy int) float64 {
	const n = 4
	var s float64
	for j := 0; j < n; j++ {
		for i := 0; i < n; i++ {
			x := pl.Crop.X + (float64(ox)+(float64(i)+0.5)/n)/pl.Scale - 0.5
			y := pl.Crop.Y + (float64(oy)+(float64(j)+0.5)/n)/pl.Scale - 0.5
			x0, y0 := int(x), int(y)
			fx, fy := x-float64(x0), y-float64(y0)
			at := func(xx, yy int) float64 { return f.alpha[min(yy, f.h-1)*f.w+min(xx, f.w-1)] }
			s += (at(x0, y0)*(1-fx)+at(x0+1, y0)*fx)*(1-fy) + (at(x0, y0+1)*(1-fx)+at(x0+1, y0+1)*fx)*fy
		}
	}
	return s / (n * n)
}

// standardizeHair standardizes the good scene composed with n stray
// hairs (composeHair), saved as a q90 JPEG, and returns the scene, the
// frame with its truth, the result and the decoded photo.
func standardizeHair(t *testing.T, n int) (scene, hairFrame, photo.Result, image.Image) {
	t.Helper()
	p, _ := fixtures(t)
	s := goodScene()
	hf := composeHair(p, s, n)
	img, err := photo.Decode(encodeJPEG(t, hf.img, 90), 0)
	if err != nil {
		t.Fatal(err)
	}
	res, err := newAnalyzer(t).Standardize(img, photo.StandardizeOptions{})
	if err != nil {
		t.Fatalf("Standardize: %v", err)
	}
	out, err := jpeg.Decode(bytes.NewReader(res.JPEG))
	if err != nil {
		t.Fatal(err)
	}
	return s, hf, res, out
}

// TestMatteHair: on a frame with a known alpha and fine stray hairs, the
// matte is close to the truth at the hair, and the composite shows no
// light halo (no channel lighter than both the person and the template),
// where compositing the raw frame with the same matte would.
func TestMatteHair(t *testing.T) {
	_, hf, res, out := standardizeHair(t, 60)
	pl := res.Report.Plan
	spec := photo.Specs[photo.DefaultSpecID]
	w, h := spec.Width, spec.Height
	eyeY := int(pl.EyeY)
	truth := make([]float64, w*h)
	for oy := 0; oy < h; oy++ {
		for ox := 0; ox < w; ox++ {
			truth[oy*w+ox] = hf.outputAlpha(pl, ox, oy)
		}
	}
	// The hair band: above the eye line, partly covered or next to both
	// person and wall.
	band := make([]bool, w*h)
	for oy := 2; oy < eyeY; oy++ {
		for ox := 2; ox < w-2; ox++ {
			lo, hi := 1.0, 0.0
			for dy := -2; dy <= 2; dy++ {
				for dx := -2; dx <= 2; dx++ {
					v := truth[(oy+dy)*w+ox+dx]
					lo, hi = min(lo, v), max(hi, v)
				}
			}
			a := truth[oy*w+ox]
			band[oy*w+ox] = (a > 0.02 && a < 0.98) || hi-lo > 0.5
		}
	}
	var errSum, hardSum, bias, strandErr, strandN, loErr, loN float64
	var nBand int
	for i, in := range band {
		if !in {
			continue
		}
		got := float64(res.Matte.Pix[i]) / 255
		errSum += math.Abs(got - truth[i])
		bias += got - truth[i]
		if truth[i] < 0.5 {
			loErr += math.Abs(got - truth[i])
			loN++
		} else {
			strandErr += math.Abs(got - truth[i])
			strandN++
		}
		hard := 0.0
		if truth[i] >= 0.5 {
			hard = 1
		}
		hardSum += math.Abs(hard - truth[i])
		nBand++
	}
	if nBand < 500 {
		t.Fatalf("hair band has %d pixels; the composition is wrong", nBand)
	}
	mae, hardMAE := errSum/float64(nBand), hardSum/float64(nBand)
	t.Logf("alpha bias %+.3f; error where truth < 0.5: %.3f (%v px), >= 0.5: %.3f (%v px)", bias/float64(nBand), loErr/loN, loN, strandErr/strandN, strandN)
	t.Logf("hair band: %d px, mean |alpha error| %.3f (a perfect hard cut-out: %.3f)", nBand, mae, hardMAE)
	if mae > 0.08 || mae > 0.5*hardMAE {
		t.Errorf("mean |alpha error| in the hair band = %.3f; want <= 0.08 and half a hard cut-out's %.3f", mae, hardMAE)
	}
	// Everything far from the person is exactly background.
	for oy := 0; oy < 40; oy++ {
		for ox := 0; ox < w; ox++ {
			if truth[oy*w+ox] == 0 && res.Matte.Pix[oy*w+ox] != 0 && !nearPerson(truth, w, h, ox, oy, 6) {
				t.Fatalf("matte %d at (%d,%d), far from the person", res.Matte.Pix[oy*w+ox], ox, oy)
			}
		}
	}

	// Halo: in the band, no channel above both the template's and the
	// nearby solid person's (the strand colour at a stray hair's tip), plus
	// JPEG slack.
	tc := [3]float64{float64(spec.Background.R), float64(spec.Background.G), float64(spec.Background.B)}
	halo := func(col func(i int) [3]float64) float64 {
		bad, n := 0, 0
		for i, in := range band {
			if !in || truth[i] < 0.05 || truth[i] > 0.95 {
				continue
			}
			ref := solidNear(out, truth, w, h, i%w, i/w, 4)
			c := col(i)
			n++
			for ch := 0; ch < 3; ch++ {
				if c[ch] > max(tc[ch], ref[ch])+haloSlack {
					bad++
					break
				}
			}
		}
		return float64(bad) / float64(max(n, 1))
	}
	ours := halo(func(i int) [3]float64 {
		c := color.RGBAModel.Convert(out.At(i%w, i/w)).(color.RGBA)
		return [3]float64{float64(c.R), float64(c.G), float64(c.B)}
	})
	// The same matte over the raw frame's colours: the wall shows through.
	naive := halo(func(i int) [3]float64 {
		a := float64(res.Matte.Pix[i]) / 255
		fx := pl.Crop.X + (float64(i%w)+0.5)/pl.Scale - 0.5
		fy := pl.Crop.Y + (float64(i/w)+0.5)/pl.Scale - 0.5
		c := bilinear(hf.img, fx, fy)
		return [3]float64{a*c[0] + (1-a)*tc[0], a*c[1] + (1-a)*tc[1], a*c[2] + (1-a)*tc[2]}
	})
	t.Logf("halo pixels: %.1f %% (raw frame with the same matte: %.1f %%)", 100*ours, 100*naive)
	// Measured: 4.8 % against 23.9 % for the raw composite (slack 20).
	if ours > 0.06 {
		t.Errorf("%.1f %% of the soft hair pixels are lighter than both the hair and the background; want <= 6 %%", 100*ours)
	}
	if naive < 0.15 {
		t.Errorf("the halo measure does not see the wall in a raw composite (%.1f %%): the test is blind", 100*naive)
	}
}

// nearPerson reports whether any pixel within r of (x, y) has true alpha.
func nearPerson(truth []float64, w, h, x, y, r int) bool {
	for yy := max(y-r, 0); yy <= min(y+r, h-1); yy++ {
		for xx := max(x-r, 0); xx <= min(x+r, w-1); xx++ {
			if truth[yy*w+xx] > 0 {
				return true
			}
		}
	}
	return false
}

// solidNear is the per-channel median of the solid person pixels (true
// alpha >= 0.99) within r of (x, y) in the photo, or the stray hairs'
// colour where there are none.
func solidNear(img image.Image, truth []float64, w, h, x, y, r int) [3]float64 {
	var ch [3][]float64
	for yy := max(y-r, 0); yy <= min(y+r, h-1); yy++ {
		for xx := max(x-r, 0); xx <= min(x+r, w-1); xx++ {
			if truth[yy*w+xx] >= 0.99 {
				c := color.RGBAModel.Convert(img.At(xx, yy)).(color.RGBA)
				ch[0], ch[1], ch[2] = append(ch[0], float64(c.R)), append(ch[1], float64(c.G)), append(ch[2], float64(c.B))
			}
		}
	}
	if len(ch[0]) == 0 {
		return strandColour
	}
	var m [3]float64
	for c := range ch {
		slices.Sort(ch[c])
		m[c] = ch[c][len(ch[c])/2]
	}
	return m
}

// edgeDistance is, for every output pixel, the Euclidean distance (output
// pixels) to the nearest pixel whose true alpha is at least 0.5, searched
// up to max; pixels further away get max+1, pixels inside get 0.
func edgeDistance(truth []float64, w, h, limit int) []float64 {
	d := make([]float64, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if truth[y*w+x] >= 0.5 {
				continue
			}
			best := float64(limit + 1)
			for yy := max(y-limit, 0); yy <= min(y+limit, h-1); yy++ {
				for xx := max(x-limit, 0); xx <= min(x+limit, w-1); xx++ {
					if truth[yy*w+xx] >= 0.5 {
						best = min(best, math.Hypot(float64(xx-x), float64(yy-y)))
					}
				}
			}
			d[y*w+x] = best
		}
	}
	return d
}

func colourDist(a, b [3]float64) float64 {
	return math.Sqrt((a[0]-b[0])*(a[0]-b[0]) + (a[1]-b[1])*(a[1]-b[1]) + (a[2]-b[2])*(a[2]-b[2]))
}

// TestMatteIoUHalo (issue 4): on a composed frame whose person mask is
// known exactly, the matte thresholded at alpha 0.5 overlaps the true
// mask with IoU >= 0.97, and in the ring 2..6 output pixels outside the
// true edge no pixel of the photo is closer to the old wall's colour (as
// shot, or after the photo's colour correction) than to both the new
// background and the nearby person. A naive cut-out that keeps 4 px of
// the frame around the person must fail the same halo measure.
func TestMatteIoUHalo(t *testing.T) {
	s, hf, res, out := standardizeHair(t, 0)
	spec := photo.Specs[photo.DefaultSpecID]
	w, h := spec.Width, spec.Height
	pl := res.Report.Plan
	truth := make([]float64, w*h)
	for oy := 0; oy < h; oy++ {
		for ox := 0; ox < w; ox++ {
			truth[oy*w+ox] = hf.outputAlpha(pl, ox, oy)
		}
	}
	var inter, union int
	for i, tv := range truth {
		in, got := tv >= 0.5, res.Matte.Pix[i] >= 128
		if in && got {
			inter++
		}
		if in || got {
			union++
		}
	}
	iou := float64(inter) / float64(max(union, 1))
	t.Logf("IoU %.4f (%d / %d px)", iou, inter, union)
	if iou < 0.97 {
		t.Errorf("matte IoU with the true mask = %.4f; want >= 0.97", iou)
	}

	const ringMin, ringMax = 2, 6
	dist := edgeDistance(truth, w, h, ringMax)
	tc := [3]float64{float64(spec.Background.R), float64(spec.Background.G), float64(spec.Background.B)}
	cc := res.Report.Colour
	walls := [2][3]float64{{float64(s.Wall.R), float64(s.Wall.G), float64(s.Wall.B)}}
	for c := range walls[1] {
		walls[1][c] = 255 * math.Pow(min(1, walls[0][c]*cc.Gains[c]/255), cc.Gamma)
	}
	// halo counts the ring pixels whose colour is nearer an old wall
	// colour than both the template and the person nearby.
	halo := func(col func(x, y int) [3]float64) (bad, n int) {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				if d := dist[y*w+x]; d < ringMin || d > ringMax {
					continue
				}
				n++
				c := col(x, y)
				ref := colourDist(c, tc)
				if pc := solidNear(out, truth, w, h, x, y, ringMax+2); pc != strandColour {
					ref = min(ref, colourDist(c, pc))
				}
				for _, wall := range walls {
					if colourDist(c, wall) < ref {
						bad++
						break
					}
				}
			}
		}
		return bad, n
	}
	bad, n := halo(func(x, y int) [3]float64 {
		c := color.RGBAModel.Convert(out.At(x, y)).(color.RGBA)
		return [3]float64{float64(c.R), float64(c.G), float64(c.B)}
	})
	if n < 2000 {
		t.Fatalf("ring has %d pixels; the composition is wrong", n)
	}
	if bad > 0 {
		t.Errorf("%d of %d ring pixels (%d..%d px outside the person) are nearer the old wall than the new background and the person", bad, n, ringMin, ringMax)
	}
	// The blind check: the frame kept up to 4 px around the true mask.
	naive, _ := halo(func(x, y int) [3]float64 {
		if dist[y*w+x] > 4 {
			return tc
		}
		fx := pl.Crop.X + (float64(x)+0.5)/pl.Scale - 0.5
		fy := pl.Crop.Y + (float64(y)+0.5)/pl.Scale - 0.5
		return bilinear(hf.img, fx, fy)
	})
	t.Logf("halo: %d of %d ring pixels; a 4 px naive cut-out: %d", bad, n, naive)
	if naive < n/10 {
		t.Errorf("the halo measure flags only %d of %d ring pixels of a naive cut-out: the test is blind", naive, n)
	}
}

// TestNthSmallest: the quickselect gives what sorting gives, for every
// rank, on data with ties.
func TestNthSmallest(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 2, 3, 10, 101} {
		a := make([]float64, n)
		for i := range a {
			a[i] = float64(rng.IntN(7))
		}
		sorted := slices.Clone(a)
		slices.Sort(sorted)
		for k := 0; k < n; k++ {
			if got := photo.NthSmallest(slices.Clone(a), k); got != sorted[k] {
				t.Fatalf("n=%d k=%d: got %v; want %v", n, k, got, sorted[k])
			}
		}
	}
}

// TestSlideMeans: the sliding window box means equal brute-force means
// over clamped windows, at the edges too, and across the strips the
// columns are cut into.
func TestSlideMeans(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct{ w, h, r int }{{17, 13, 2}, {9, 30, 5}, {40, 7, 24}, {1, 1, 3}, {130, 20, 3}, {200, 9, 24}, {97, 60, 5}} {
		p := make([]float64, tc.w*tc.h)
		for i := range p {
			p[i] = rng.Float64() * 255
		}
		got := photo.SlideMeans(p, tc.w, tc.h, tc.r)
		for y := 0; y < tc.h; y++ {
			for x := 0; x < tc.w; x++ {
				var s, n float64
				for yy := max(y-tc.r, 0); yy <= min(y+tc.r, tc.h-1); yy++ {
					for xx := max(x-tc.r, 0); xx <= min(x+tc.r, tc.w-1); xx++ {
						s += p[yy*tc.w+xx]
						n++
					}
				}
				if g := got[y*tc.w+x]; math.Abs(g-s/n) > 1e-9 {
					t.Fatalf("%dx%d r=%d at (%d,%d): %v; want %v", tc.w, tc.h, tc.r, x, y, g, s/n)
				}
			}
		}
	}
}

// TestSatCounts: the summed-area table (built in parallel rows and column
// bands) counts a mask's pixels over clamped windows as a direct count
// does.
func TestSatCounts(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, tc := range []struct{ w, h, r int }{{1, 1, 1}, {7, 300, 2}, {301, 5, 4}, {130, 97, 5}} {
		mask := make([]uint8, tc.w*tc.h)
		for i := range mask {
			mask[i] = uint8(rng.IntN(2))
		}
		got := photo.SatCounts(mask, tc.w, tc.h, tc.r)
		for y := 0; y < tc.h; y++ {
			for x := 0; x < tc.w; x++ {
				want := 0
				for yy := max(y-tc.r, 0); yy <= min(y+tc.r, tc.h-1); yy++ {
					for xx := max(x-tc.r, 0); xx <= min(x+tc.r, tc.w-1); xx++ {
						want += int(mask[yy*tc.w+xx])
					}
				}
				if g := got[y*tc.w+x]; g != want {
					t.Fatalf("%dx%d r=%d at (%d,%d): %d; want %d", tc.w, tc.h, tc.r, x, y, g, want)
				}
			}
		}
	}
}

// refGuidedFilter is the colour guided filter computed directly at every
// pixel (windows clamped at the edges): the reference for the matte's
// band-limited one.
func refGuidedFilter(rgb []float32, w, h int, p []float32, r int, eps float64) []float64 {
	n := w * h
	I := func(i, c int) float64 { return float64(rgb[3*i+c]) / 255 }
	win := func(x, y int) (x0, x1, y0, y1 int) {
		return max(x-r, 0), min(x+r, w-1), max(y-r, 0), min(y+r, h-1)
	}
	a := make([][3]float64, n)
	b := make([]float64, n)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			x0, x1, y0, y1 := win(x, y)
			var mI, mIp [3]float64
			var mII [3][3]float64
			var mp, cnt float64
			for yy := y0; yy <= y1; yy++ {
				for xx := x0; xx <= x1; xx++ {
					i := yy*w + xx
					pv := float64(p[i])
					mp += pv
					for c := 0; c < 3; c++ {
						mI[c] += I(i, c)
						mIp[c] += I(i, c) * pv
						for d := 0; d < 3; d++ {
							mII[c][d] += I(i, c) * I(i, d)
						}
					}
					cnt++
				}
			}
			mp /= cnt
			var S [3][3]float64
			var cv [3]float64
			for c := 0; c < 3; c++ {
				mI[c] /= cnt
			}
			for c := 0; c < 3; c++ {
				cv[c] = mIp[c]/cnt - mI[c]*mp
				for d := 0; d < 3; d++ {
					S[c][d] = mII[c][d]/cnt - mI[c]*mI[d]
				}
				S[c][c] += eps
			}
			// Cramer's rule
			det3 := func(m [3][3]float64) float64 {
				return m[0][0]*(m[1][1]*m[2][2]-m[1][2]*m[2][1]) - m[0][1]*(m[1][0]*m[2][2]-m[1][2]*m[2][0]) + m[0][2]*(m[1][0]*m[2][1]-m[1][1]*m[2][0])
			}
			det := det3(S)
			i := y*w + x
			for c := 0; c < 3; c++ {
				m := S
				for row := 0; row < 3; row++ {
					m[row][c] = cv[row]
				}
				a[i][c] = det3(m) / det
			}
			b[i] = mp - a[i][0]*mI[0] - a[i][1]*mI[1] - a[i][2]*mI[2]
		}
	}
	q := make([]float64, n)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			x0, x1, y0, y1 := win(x, y)
			var ma [3]float64
			var mb, cnt float64
			for yy := y0; yy <= y1; yy++ {
				for xx := x0; xx <= x1; xx++ {
					for c := 0; c < 3; c++ {
						ma[c] += a[yy*w+xx][c]
					}
					mb += b[yy*w+xx]
					cnt++
				}
			}
			i := y*w + x
			q[i] = (ma[0]*I(i, 0) + ma[1]*I(i, 1) + ma[2]*I(i, 2) + mb) / cnt
		}
	}
	return q
}

// TestGuidedFilterBand: the matte evaluates the guided filter only within
// two radii of alpha's edges, strip by strip; on a picture with large flat
// alpha areas that gives the full filter's result everywhere.
func TestGuidedFilterBand(t *testing.T) {
	// Two discs, far apart: several strips, some rows of a strip skipped.
	const w, h, r = 180, 64, 3
	rng := rand.New(rand.NewPCG(7, 8))
	rgb := make([]float32, 3*w*h)
	p := make([]float32, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := y*w + x
			dist := min(math.Hypot(float64(x-30), float64(y-26)), math.Hypot(float64(x-140), float64(y-44)))
			in := dist < 14
			for c := 0; c < 3; c++ {
				v := 230.0
				if in {
					v = 60 + 40*float64(c)
				}
				rgb[3*i+c] = float32(v + 6*rng.NormFloat64())
			}
			switch d := dist; {
			case d < 12:
				p[i] = 1
			case d < 16:
				p[i] = float32(clamp01((16 - d) / 4))
			}
		}
	}
	got := photo.GuidedFilter(rgb, w, h, p, r, 1e-3)
	want := refGuidedFilter(rgb, w, h, p, r, 1e-3)
	var changed int
	for i := range want {
		if math.Abs(float64(got[i])-want[i]) > 1e-4 {
			t.Fatalf("pixel (%d,%d): %v; the full filter gives %v", i%w, i/w, got[i], want[i])
		}
		if math.Abs(want[i]-float64(p[i])) > 1e-3 {
			changed++
		}
	}
	if changed < 100 {
		t.Errorf("the filter changed only %d pixels: the test does not exercise it", changed)
	}
}
