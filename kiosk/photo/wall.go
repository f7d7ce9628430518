package photo

import (
	"image"
	"math"
)

// Wall is the mean colour of the booth's wall in a frame: the top tenth of
// the picture and the upper halves of its left and right tenths, where a
// seated student's head and shoulders do not reach. It is how calibration
// remembers the empty booth, and how far the light has drifted since.
type Wall struct {
	// RGB is the mean sRGB colour, 0..255 per channel.
	RGB [3]float64 `json:"rgb"`
	// Lab is the same colour in CIELAB (D65).
	Lab [3]float64 `json:"lab"`
	// Spread is the standard deviation of the sampled pixels' lightness
	// (L*): near 0 for an even wall, high for clutter or uneven light.
	Spread float64 `json:"spread"`
}

// MeasureWall measures the wall in img, turned upright by rotation (0,
// 90, 180, 270 degrees clockwise). It samples a sparse grid, so it is cheap
// enough for once a second on a live frame.
func MeasureWall(img image.Image, rotation int) (Wall, error) {
	var p pixels
	if err := p.load(img, rotation); err != nil {
		return Wall{}, err
	}
	w, h := p.w, p.h
	band := max(1, h/10)
	side := max(1, w/10)
	step := max(1, min(w, h)/120)
	var sum [3]float64
	var sumL, sumL2, n float64
	add := func(u, v int) {
		r, g, b := p.rgb(u, v)
		sum[0] += float64(r)
		sum[1] += float64(g)
		sum[2] += float64(b)
		l := toLab(float64(r), float64(g), float64(b)).L
		sumL += l
		sumL2 += l * l
		n++
	}
	for v := 0; v < band; v += step {
		for u := 0; u < w; u += step {
			add(u, v)
		}
	}
	for v := band; v < h/2; v += step {
		for u := 0; u < side; u += step {
			add(u, v)
			add(w-1-u, v)
		}
	}
	var out Wall
	for i := range sum {
		out.RGB[i] = sum[i] / n
	}
	c := toLab(out.RGB[0], out.RGB[1], out.RGB[2])
	out.Lab = [3]float64{c.L, c.A, c.B}
	mean := sumL / n
	out.Spread = math.Sqrt(max(0, sumL2/n-mean*mean))
	return out, nil
}

// DeltaE is the CIEDE2000 distance between two wall colours: how far the
// booth's light or wall has drifted from a calibration.
func (w Wall) DeltaE(o Wall) float64 {
	return deltaE00(lab{w.Lab[0], w.Lab[1], w.Lab[2]}, lab{o.Lab[0], o.Lab[1], o.Lab[2]})
}
