package photo

import "math"

// lab is a CIELAB colour (D65 white).
type lab struct{ L, A, B float64 }

// toLab converts sRGB (each 0..255, fractional values allowed for means
// of many pixels) to CIELAB under D65.
func toLab(r, g, b float64) lab {
	lin := func(v float64) float64 {
		c := v / 255
		if c <= 0.04045 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	rl, gl, bl := lin(r), lin(g), lin(b)
	x := (0.4124564*rl + 0.3575761*gl + 0.1804375*bl) / 0.95047
	y := 0.2126729*rl + 0.7151522*gl + 0.0721750*bl
	z := (0.0193339*rl + 0.1191920*gl + 0.9503041*bl) / 1.08883
	f := func(t float64) float64 {
		if t > 216.0/24389 {
			return math.Cbrt(t)
		}
		return (24389.0/27*t + 16) / 116
	}
	fx, fy, fz := f(x), f(y), f(z)
	return lab{L: 116*fy - 16, A: 500 * (fx - fy), B: 200 * (fy - fz)}
}

// chroma and hue (degrees, 0..360) of a Lab colour.
func (c lab) chroma() float64 { return math.Hypot(c.A, c.B) }
func (c lab) hue() float64 {
	h := math.Atan2(c.B, c.A) * 180 / math.Pi
	if h < 0 {
		h += 360
	}
	return h
}

// hueDiff is the absolute difference of two hue angles, 0..180.
func hueDiff(a, b float64) float64 {
	d := math.Abs(a - b)
	if d > 180 {
		d = 360 - d
	}
	return d
}

// deltaE00 is the CIEDE2000 colour difference (Sharma, Wu, Dalal 2005).
func deltaE00(c1, c2 lab) float64 {
	const kL, kC, kH = 1, 1, 1
	deg := math.Pi / 180
	C1 := math.Hypot(c1.A, c1.B)
	C2 := math.Hypot(c2.A, c2.B)
	Cm := (C1 + C2) / 2
	Cm7 := math.Pow(Cm, 7)
	G := 0.5 * (1 - math.Sqrt(Cm7/(Cm7+math.Pow(25, 7))))
	a1 := (1 + G) * c1.A
	a2 := (1 + G) * c2.A
	C1p := math.Hypot(a1, c1.B)
	C2p := math.Hypot(a2, c2.B)
	hp := func(b, a float64) float64 {
		if a == 0 && b == 0 {
			return 0
		}
		h := math.Atan2(b, a) / deg
		if h < 0 {
			h += 360
		}
		return h
	}
	h1 := hp(c1.B, a1)
	h2 := hp(c2.B, a2)
	dL := c2.L - c1.L
	dC := C2p - C1p
	var dh float64
	switch {
	case C1p*C2p == 0:
		dh = 0
	case math.Abs(h2-h1) <= 180:
		dh = h2 - h1
	case h2-h1 > 180:
		dh = h2 - h1 - 360
	default:
		dh = h2 - h1 + 360
	}
	dH := 2 * math.Sqrt(C1p*C2p) * math.Sin(dh/2*deg)
	Lm := (c1.L + c2.L) / 2
	Cmp := (C1p + C2p) / 2
	var hm float64
	switch {
	case C1p*C2p == 0:
		hm = h1 + h2
	case math.Abs(h1-h2) <= 180:
		hm = (h1 + h2) / 2
	case h1+h2 < 360:
		hm = (h1 + h2 + 360) / 2
	default:
		hm = (h1 + h2 - 360) / 2
	}
	T := 1 - 0.17*math.Cos((hm-30)*deg) + 0.24*math.Cos(2*hm*deg) +
		0.32*math.Cos((3*hm+6)*deg) - 0.20*math.Cos((4*hm-63)*deg)
	dTheta := 30 * math.Exp(-math.Pow((hm-275)/25, 2))
	Cmp7 := math.Pow(Cmp, 7)
	Rc := 2 * math.Sqrt(Cmp7/(Cmp7+math.Pow(25, 7)))
	Sl := 1 + 0.015*(Lm-50)*(Lm-50)/math.Sqrt(20+(Lm-50)*(Lm-50))
	Sc := 1 + 0.045*Cmp
	Sh := 1 + 0.015*Cmp*T
	Rt := -math.Sin(2*dTheta*deg) * Rc
	l, c, h := dL/(kL*Sl), dC/(kC*Sc), dH/(kH*Sh)
	return math.Sqrt(l*l + c*c + h*h + Rt*c*h)
}
