package photo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"math"
)

// Size limits are in bytes. The specs say "KB" without saying whether a
// kilobyte is 1000 or 1024 bytes, so the encoder takes the reading that
// satisfies both: an upper bound of N KB is N*1000 bytes, a lower bound is
// N*1024 bytes (30-40 KB = 30720..40000 bytes).
func kbUpper(kb int) int { return kb * 1000 }
func kbLower(kb int) int { return kb * 1024 }

// MaxSearchQuality is the highest JPEG quality the size search tries
// (PHOTO-SPEC.md: "search the quality (60..95)").
const MaxSearchQuality = 95

// ErrJPEG is wrapped by ParseJPEG for bytes that are not a well-formed
// JPEG header.
var ErrJPEG = errors.New("malformed JPEG")

// JPEGInfo is what ParseJPEG reads from a JPEG's header segments (up to the
// first scan): enough to prove a file meets a spec without decoding it.
type JPEGInfo struct {
	Width      int `json:"width"`
	Height     int `json:"height"`
	Components int `json:"components"`
	// SOF is the start-of-frame marker (0xC0 baseline, 0xC1 extended,
	// 0xC2 progressive, ...); Baseline is SOF == 0xC0.
	SOF      byte `json:"sof"`
	Baseline bool `json:"baseline"`
	// Sampling is the luma component's sampling factors, "2x2" for 4:2:0.
	Sampling string `json:"sampling"`
	// JFIF is true when an APP0 "JFIF" segment is present, with its
	// density: DensityUnit 1 = dots per inch, 2 = dots per cm, 0 = aspect
	// ratio only.
	JFIF        bool `json:"jfif"`
	DensityUnit int  `json:"density_unit"`
	XDensity    int  `json:"x_density"`
	YDensity    int  `json:"y_density"`
	// EXIF is true when an APP1 "Exif" segment is present; APPs counts all
	// application segments (APP0..APP15).
	EXIF bool `json:"exif"`
	APPs int  `json:"apps"`
	// Quant holds the quantisation tables by id (natural order, not
	// zig-zag); nil where a table is not defined.
	Quant [4]*[64]uint16 `json:"-"`
	// Quality is the IJG quality (1..100) whose scaled standard tables
	// are nearest to the file's; QualityError is the mean absolute
	// difference per coefficient (0: the tables are exactly IJG's at that
	// quality). 0 when the file has no luminance table.
	Quality      int     `json:"quality"`
	QualityError float64 `json:"quality_error"`
}

// DPI returns the density in dots per inch, converting dots per cm; 0 when
// the file states no physical density.
func (j JPEGInfo) DPI() (x, y float64) {
	switch j.DensityUnit {
	case 1:
		return float64(j.XDensity), float64(j.YDensity)
	case 2:
		return float64(j.XDensity) * 2.54, float64(j.YDensity) * 2.54
	}
	return 0, 0
}

// stdQuant are the example tables of ITU T.81 Annex K (K.1 luminance, K.2
// chrominance) in natural order: the tables the IJG quality scale (and Go's
// encoder) multiplies.
var stdQuant = [2][64]uint16{{
	16, 11, 10, 16, 24, 40, 51, 61,
	12, 12, 14, 19, 26, 58, 60, 55,
	14, 13, 16, 24, 40, 57, 69, 56,
	14, 17, 22, 29, 51, 87, 80, 62,
	18, 22, 37, 56, 68, 109, 103, 77,
	24, 35, 55, 64, 81, 104, 113, 92,
	49, 64, 78, 87, 103, 121, 120, 101,
	72, 92, 95, 98, 112, 100, 103, 99,
}, {
	17, 18, 24, 47, 99, 99, 99, 99,
	18, 21, 26, 66, 99, 99, 99, 99,
	24, 26, 56, 99, 99, 99, 99, 99,
	47, 66, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
}}

// ijgTable scales a standard table to quality q as libjpeg (and Go) do,
// with 8-bit (baseline) clamping.
func ijgTable(std *[64]uint16, q int) [64]uint16 {
	q = clampInt(q, 1, 100)
	scale := 200 - 2*q
	if q < 50 {
		scale = 5000 / q
	}
	var t [64]uint16
	for i, v := range std {
		t[i] = uint16(clampInt((int(v)*scale+50)/100, 1, 255))
	}
	return t
}

// estimateQuality finds the IJG quality whose tables best match the
// luminance table (and the chrominance one, when present).
func estimateQuality(luma, chroma *[64]uint16) (int, float64) {
	if luma == nil {
		return 0, 0
	}
	best, bestErr := 0, -1.0
	for q := 1; q <= 100; q++ {
		var sum, n float64
		for i, tab := range []*[64]uint16{luma, chroma} {
			if tab == nil {
				continue
			}
			ref := ijgTable(&stdQuant[i], q)
			for k := range tab {
				d := float64(tab[k]) - float64(ref[k])
				if d < 0 {
					d = -d
				}
				sum += d
				n++
			}
		}
		if e := sum / n; bestErr < 0 || e < bestErr {
			best, bestErr = q, e
		}
	}
	return best, bestErr
}

// jpegSegment is one marker segment before the first scan: b[start:end]
// holds the marker and its payload.
type jpegSegment struct {
	marker              byte
	start, payload, end int
}

// jpegSegments walks the marker segments from SOI to the first SOS and
// returns them with the offset where the SOS segment starts.
func jpegSegments(b []byte) ([]jpegSegment, int, error) {
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return nil, 0, fmt.Errorf("%w: no SOI marker", ErrJPEG)
	}
	var segs []jpegSegment
	i := 2
	for {
		if i >= len(b) || b[i] != 0xFF {
			return nil, 0, fmt.Errorf("%w: expected a marker at offset %d", ErrJPEG, i)
		}
		start := i
		for i < len(b) && b[i] == 0xFF { // fill bytes
			i++
		}
		if i >= len(b) {
			return nil, 0, fmt.Errorf("%w: truncated marker", ErrJPEG)
		}
		m := b[i]
		i++
		switch {
		case m == 0xD8 || m == 0xD9 || m == 0x00 || (m >= 0xD0 && m <= 0xD7) || m == 0x01:
			return nil, 0, fmt.Errorf("%w: unexpected marker 0x%02X before the first scan", ErrJPEG, m)
		}
		if i+2 > len(b) {
			return nil, 0, fmt.Errorf("%w: truncated segment 0x%02X", ErrJPEG, m)
		}
		n := int(binary.BigEndian.Uint16(b[i:]))
		if n < 2 || i+n > len(b) {
			return nil, 0, fmt.Errorf("%w: segment 0x%02X length %d out of bounds", ErrJPEG, m, n)
		}
		if m == 0xDA {
			return segs, start, nil
		}
		segs = append(segs, jpegSegment{marker: m, start: start, payload: i + 2, end: i + n})
		i += n
	}
}

// ParseJPEG reads a JPEG's header segments: size, components, frame type,
// JFIF density, EXIF presence and the quantisation tables, with the
// quality they imply. It does not decode the picture and reads nothing
// past the first scan header. The error wraps ErrJPEG.
func ParseJPEG(b []byte) (JPEGInfo, error) {
	segs, _, err := jpegSegments(b)
	if err != nil {
		return JPEGInfo{}, err
	}
	var info JPEGInfo
	sof := false
	lumaTable := 0
	for _, s := range segs {
		p := b[s.payload:s.end]
		switch m := s.marker; {
		case m >= 0xE0 && m <= 0xEF:
			info.APPs++
			if m == 0xE0 && len(p) >= 14 && string(p[:5]) == "JFIF\x00" && !info.JFIF {
				info.JFIF = true
				info.DensityUnit = int(p[7])
				info.XDensity = int(binary.BigEndian.Uint16(p[8:]))
				info.YDensity = int(binary.BigEndian.Uint16(p[10:]))
			}
			if m == 0xE1 && len(p) >= 6 && string(p[:6]) == "Exif\x00\x00" {
				info.EXIF = true
			}
		case m == 0xDB:
			for len(p) > 0 {
				pq, tq := p[0]>>4, p[0]&0x0F
				if tq > 3 || pq > 1 {
					return JPEGInfo{}, fmt.Errorf("%w: bad DQT table 0x%02X", ErrJPEG, p[0])
				}
				size := 64 * (1 + int(pq))
				if len(p) < 1+size {
					return JPEGInfo{}, fmt.Errorf("%w: truncated DQT", ErrJPEG)
				}
				var t [64]uint16
				for k := 0; k < 64; k++ {
					v := uint16(p[1+k])
					if pq == 1 {
						v = binary.BigEndian.Uint16(p[1+2*k:])
					}
					t[unzig[k]] = v
				}
				info.Quant[tq] = &t
				p = p[1+size:]
			}
		case m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC:
			if sof {
				return JPEGInfo{}, fmt.Errorf("%w: two frame headers", ErrJPEG)
			}
			sof = true
			if len(p) < 6 {
				return JPEGInfo{}, fmt.Errorf("%w: truncated SOF", ErrJPEG)
			}
			info.SOF = m
			info.Baseline = m == 0xC0
			info.Height = int(binary.BigEndian.Uint16(p[1:]))
			info.Width = int(binary.BigEndian.Uint16(p[3:]))
			info.Components = int(p[5])
			if len(p) < 6+3*info.Components {
				return JPEGInfo{}, fmt.Errorf("%w: truncated SOF components", ErrJPEG)
			}
			if info.Components > 0 {
				hv := p[7]
				info.Sampling = fmt.Sprintf("%dx%d", hv>>4, hv&0x0F)
				lumaTable = int(p[8] & 0x03)
			}
		}
	}
	if !sof {
		return JPEGInfo{}, fmt.Errorf("%w: no frame header", ErrJPEG)
	}
	chroma := (*[64]uint16)(nil)
	for id, t := range info.Quant {
		if t != nil && id != lumaTable && info.Components > 1 {
			chroma = t
			break
		}
	}
	info.Quality, info.QualityError = estimateQuality(info.Quant[lumaTable], chroma)
	info.QualityError = r4(info.QualityError)
	return info, nil
}

// SetJFIFDensity returns a copy of the JPEG b with one JFIF APP0 segment
// right after SOI stating dpi x dpi dots per inch, and without any other
// application segment (APP0..APP15: JFIF, EXIF, XMP, ICC) or comment, so
// no camera or location data survives. The scans are copied unchanged.
func SetJFIFDensity(b []byte, dpi int) ([]byte, error) {
	if dpi <= 0 || dpi > 0xFFFF {
		return nil, fmt.Errorf("JFIF density %d: want 1..65535", dpi)
	}
	segs, sos, err := jpegSegments(b)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(b)+18)
	out = append(out, 0xFF, 0xD8)
	out = append(out, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 1)
	out = binary.BigEndian.AppendUint16(out, uint16(dpi))
	out = binary.BigEndian.AppendUint16(out, uint16(dpi))
	out = append(out, 0, 0) // no thumbnail
	for _, s := range segs {
		if (s.marker >= 0xE0 && s.marker <= 0xEF) || s.marker == 0xFE {
			continue
		}
		out = append(out, b[s.start:s.end]...)
	}
	return append(out, b[sos:]...), nil
}

// sizeWindow is the byte range the encoder aims for.
type sizeWindow struct{ min, max, hard int }

func specWindow(s Spec) sizeWindow {
	return sizeWindow{min: kbLower(s.TargetMinKB), max: kbUpper(s.TargetMaxKB), hard: kbUpper(s.HardMaxKB)}
}

// jpegEncoder encodes one picture at several qualities, reusing its
// buffer, and keeps the size of each try.
type jpegEncoder struct {
	img  image.Image
	dpi  int
	buf  bytes.Buffer
	size map[int]int
}

func (e *jpegEncoder) encode(q int) ([]byte, error) {
	e.buf.Reset()
	if err := jpeg.Encode(&e.buf, e.img, &jpeg.Options{Quality: q}); err != nil {
		return nil, fmt.Errorf("encode jpeg q%d: %w", q, err)
	}
	out, err := SetJFIFDensity(e.buf.Bytes(), e.dpi)
	if err != nil {
		return nil, fmt.Errorf("encode jpeg q%d: %w", q, err)
	}
	e.size[q] = len(out)
	return out, nil
}

// qualityFirst is the first quality the size search tries: where a
// 480x640 photo on the plain background usually lands in the 30-40 KB
// window (composed 720p and 1080p frames with sensor noise: 89..93, so
// one encode; a clean 12 MP still: 93..94, two).
const qualityFirst = 91

// qualitySlope is the assumed growth of ln(file size) per quality step,
// used until the search has two sizes to interpolate (Go's encoder, a
// 480x640 portrait, qualities 84..95: about 0.05 to 0.065).
const qualitySlope = 0.055

// maxQualityTries bounds the encodes of one search.
const maxQualityTries = 7

// encodeWindow looks for a quality in minQ..MaxSearchQuality whose file is
// inside the window [w.min, w.max]: a first encode at a usual quality,
// then the quality predicted from the sizes seen so far (ln size is close
// to linear in the quality), kept strictly inside the bracket of known
// qualities (below: fits under w.max; above: too big). It stops at the
// first file inside the window; otherwise it returns the highest quality
// found that fits under w.max (the window cannot be met: the caller
// checks w.min). When even minQ is above w.max, minQ is used if it stays
// within w.hard; otherwise the error says so. The returned slice is
// freshly allocated (SetJFIFDensity copies).
func encodeWindow(img image.Image, dpi, minQ int, w sizeWindow) ([]byte, int, map[int]int, error) {
	e := &jpegEncoder{img: img, dpi: dpi, size: map[int]int{}}
	minQ = clampInt(minQ, 1, MaxSearchQuality)
	var best, atMin []byte // the best file that fits; the file at minQ
	bestQ := 0
	lo, hi := minQ-1, MaxSearchQuality+1 // lo fits (or is below minQ), hi is too big (or above the range)
	target := float64(w.min+w.max) / 2
	if w.min > w.max {
		target = float64(w.max)
	}
	q := clampInt(qualityFirst, minQ, MaxSearchQuality)
	for try := 0; try < maxQualityTries && hi-lo > 1; try++ {
		b, err := e.encode(q)
		if err != nil {
			return nil, 0, nil, err
		}
		if q == minQ {
			atMin = b
		}
		if len(b) <= w.max {
			best, bestQ, lo = b, q, q
			if len(b) >= w.min {
				break
			}
		} else {
			hi = q
		}
		if hi-lo <= 1 {
			break
		}
		q = nextQuality(e.size, q, target, lo, hi)
	}
	if best == nil {
		// Nothing fits: the lowest quality is the least bad file.
		b := atMin
		if b == nil {
			var err error
			if b, err = e.encode(minQ); err != nil {
				return nil, 0, nil, err
			}
		}
		if len(b) > w.hard {
			return nil, 0, e.size, fmt.Errorf("encode jpeg: %d bytes at the lowest quality %d, above the hard maximum %d", len(b), minQ, w.hard)
		}
		return b, minQ, e.size, nil
	}
	return best, bestQ, e.size, nil
}

// nextQuality predicts the quality whose file is target bytes from the
// sizes seen (ln size linear in quality between the two tries nearest the
// target, or the assumed slope from the last try), strictly inside (lo,
// hi).
func nextQuality(size map[int]int, last int, target float64, lo, hi int) int {
	slope := qualitySlope
	// The nearest tries on either side of the target, when there are.
	below, above := -1, -1
	for q, n := range size {
		if float64(n) <= target && (below < 0 || q > below) {
			below = q
		}
		if float64(n) > target && (above < 0 || q < above) {
			above = q
		}
	}
	if below >= 0 && above >= 0 && above != below {
		slope = (math.Log(float64(size[above])) - math.Log(float64(size[below]))) / float64(above-below)
	}
	if slope < 0.005 {
		slope = 0.005
	}
	q := last + int(math.Round((math.Log(target)-math.Log(float64(size[last])))/slope))
	return clampInt(q, lo+1, hi-1)
}
