package photo

// Test hooks for the external tests of the standardization internals:
// the matte's numerical helpers and the size search.

import "image"

// NthSmallest exposes nthSmallest.
func NthSmallest(a []float64, k int) float64 { return nthSmallest(a, k) }

// SlideMeans returns the box means of radius r (clamped windows) of a
// w x h plane at every pixel, computed with the sliding windows the matte
// uses.
func SlideMeans(plane []float64, w, h, r int) []float64 {
	out := make([]float64, w*h)
	fill := func(y, c0, c1 int, row []float64) { copy(row, plane[y*w+c0:y*w+c1]) }
	all := func(sx0, sx1, y int) bool { return true }
	boxStrips(w, h, 1, r, 0, w, 0, h, all, fill, func(y, sx0, sx1 int, s *slideBox) {
		var m [1]float64
		// every other pixel first, then the rest: both the sliding and the
		// fresh window sums are exercised
		for _, start := range []int{0, 1} {
			for x := sx0 + start; x < sx1; x += 2 {
				s.mean(x, m[:])
				out[y*w+x] = m[0]
			}
		}
		for x := sx0; x < sx1; x++ {
			s.mean(x, m[:])
			if d := m[0] - out[y*w+x]; d > 1e-9 || d < -1e-9 {
				out[y*w+x] = -1 // the two ways disagree
			}
		}
	})
	return out
}

// GuidedFilter exposes the matte's guided filter on an RGB picture (w x h,
// 0..255, interleaved) and an alpha plane.
func GuidedFilter(rgb []float32, w, h int, p []float32, r int, eps float32) []float32 {
	return guidedFilter(&rgbPlane{w: w, h: h, pix: rgb}, p, r, eps, new(matteScratch))
}

// EncodeWindow exposes the size search: qualities minQ..95 for a file of
// minB..maxB bytes, never above hard.
func EncodeWindow(img image.Image, dpi, minQ, minB, maxB, hard int) ([]byte, int, map[int]int, error) {
	return encodeWindow(img, dpi, minQ, sizeWindow{min: minB, max: maxB, hard: hard})
}

// SatCounts counts the set pixels of a 0/1 mask in the clamped window of
// radius r around every pixel, through the matte's summed-area table.
func SatCounts(mask []uint8, w, h, r int) []int {
	var t satCount
	var buf []int32
	t.build(mask, w, h, &buf)
	out := make([]int, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			out[y*w+x], _ = t.count(x, y, r)
		}
	}
	return out
}
