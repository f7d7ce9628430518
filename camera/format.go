package camera

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/blackjack/webcam"
)

// PixelFormat is a V4L2 pixel format code (a FourCC). The webcam library
// exports none, so the ones the station uses are defined here.
type PixelFormat uint32

// The pixel formats the station captures.
const (
	// MJPEG is V4L2_PIX_FMT_MJPEG ('M','J','P','G'): the camera sends JPEG
	// frames, the only way to get 720p or 1080p at 30 fps over USB 2.0.
	MJPEG PixelFormat = 0x47504A4D
	// YUYV is V4L2_PIX_FMT_YUYV ('Y','U','Y','V'): packed 4:2:2, two bytes
	// a pixel, the fallback for cameras without MJPEG.
	YUYV PixelFormat = 0x56595559
)

// String returns the format's name ("MJPEG", "YUYV") or its FourCC.
func (p PixelFormat) String() string {
	switch p {
	case MJPEG:
		return "MJPEG"
	case YUYV:
		return "YUYV"
	}
	b := []byte{byte(p), byte(p >> 8), byte(p >> 16), byte(p >> 24)}
	for _, c := range b {
		if c < 0x20 || c > 0x7E {
			return fmt.Sprintf("0x%08X", uint32(p))
		}
	}
	return string(b)
}

// Mode is one way a camera can stream: a pixel format, a size and a rate.
type Mode struct {
	Format        PixelFormat
	Width, Height int
	FPS           float64 // 0 when the camera does not say
}

// String formats m as the station shows it: "MJPEG 1920x1080 30fps".
func (m Mode) String() string {
	s := fmt.Sprintf("%s %dx%d", m.Format, m.Width, m.Height)
	if m.FPS > 0 {
		s += " " + strconv.FormatFloat(m.FPS, 'g', 4, 64) + "fps"
	}
	return s
}

// errNoMode is returned by chooseMode when the camera offers nothing the
// station can use within the configured limits.
var errNoMode = errors.New("no usable MJPEG or YUYV mode")

// maxPreferredFPS caps the rate asked for: 30 fps is smooth enough for the
// preview and the analyser decodes fewer frames still; 60 fps would double
// the USB and copy work for nothing.
const maxPreferredFPS = 30

// modeLister is what chooseMode and ListDevices need of a camera.
type modeLister interface {
	GetSupportedFormats() map[webcam.PixelFormat]string
	GetSupportedFrameSizes(webcam.PixelFormat) []webcam.FrameSize
	GetSupportedFramerates(webcam.PixelFormat, uint32, uint32) []webcam.FrameRate
}

// chooseMode picks the mode to stream: MJPEG at the largest size within
// maxW x maxH whose rate reaches minFPS; else YUYV by the same rule; else
// the MJPEG or YUYV mode within the limits with the highest rate (a slow
// camera is better than none). Only sizes the camera lists are considered.
// The rate asked for is the highest listed one up to maxPreferredFPS.
func chooseMode(cam modeLister, maxW, maxH int, minFPS float64) (Mode, error) {
	formats := cam.GetSupportedFormats()
	var all []Mode
	for _, pf := range []PixelFormat{MJPEG, YUYV} {
		if _, ok := formats[webcam.PixelFormat(pf)]; !ok {
			continue
		}
		for _, m := range modes(cam, pf) {
			if m.Width <= maxW && m.Height <= maxH {
				all = append(all, m)
			}
		}
	}
	if len(all) == 0 {
		return Mode{}, fmt.Errorf("%w within %dx%d (the camera offers %s)", errNoMode, maxW, maxH, formatNames(formats))
	}
	// Best first: fast enough, then MJPEG, then larger, then faster.
	slices.SortStableFunc(all, func(a, b Mode) int {
		if c := cmp.Compare(boolInt(b.FPS >= minFPS), boolInt(a.FPS >= minFPS)); c != 0 {
			return c
		}
		if c := cmp.Compare(boolInt(b.Format == MJPEG), boolInt(a.Format == MJPEG)); c != 0 {
			return c
		}
		if a.FPS < minFPS && a.FPS != b.FPS { // nothing is fast enough: fastest first
			return cmp.Compare(b.FPS, a.FPS)
		}
		if c := cmp.Compare(b.Width*b.Height, a.Width*a.Height); c != 0 {
			return c
		}
		return cmp.Compare(b.FPS, a.FPS)
	})
	return all[0], nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func formatNames(formats map[webcam.PixelFormat]string) string {
	if len(formats) == 0 {
		return "no formats"
	}
	var names []string
	for pf := range formats {
		names = append(names, PixelFormat(pf).String())
	}
	slices.Sort(names)
	return fmt.Sprint(names)
}

// modes lists the camera's modes in format pf, one per size, each at the
// rate chooseMode would ask for.
func modes(cam modeLister, pf PixelFormat) []Mode {
	var out []Mode
	for _, sz := range sizes(cam.GetSupportedFrameSizes(webcam.PixelFormat(pf))) {
		rates := frameRates(cam.GetSupportedFramerates(webcam.PixelFormat(pf), uint32(sz[0]), uint32(sz[1])))
		out = append(out, Mode{Format: pf, Width: sz[0], Height: sz[1], FPS: preferredRate(rates)})
	}
	return out
}

// preferredRate returns the highest rate up to maxPreferredFPS, or the
// lowest one above it, or 0 for none.
func preferredRate(rates []float64) float64 {
	best := 0.0
	for _, r := range rates {
		switch {
		case best == 0,
			r <= maxPreferredFPS && (r > best || best > maxPreferredFPS),
			r > maxPreferredFPS && best > maxPreferredFPS && r < best:
			best = r
		}
	}
	return best
}

// commonSizes are the sizes tried within a stepwise range, largest first.
var commonSizes = [][2]int{
	{3840, 2160}, {2592, 1944}, {2560, 1440}, {1920, 1080}, {1600, 1200},
	{1280, 960}, {1280, 720}, {1024, 768}, {800, 600}, {640, 480}, {320, 240},
}

// sizes turns the library's frame sizes into a deduplicated list, largest
// first. Discrete sizes are taken as they are; a stepwise range contributes
// its maximum and the common sizes that fit its steps. Continuous ranges
// come back from the library as all-zero structs and are skipped.
func sizes(fs []webcam.FrameSize) [][2]int {
	var out [][2]int
	add := func(w, h int) {
		if w > 0 && h > 0 && !slices.Contains(out, [2]int{w, h}) {
			out = append(out, [2]int{w, h})
		}
	}
	for _, s := range fs {
		if s.StepWidth == 0 && s.StepHeight == 0 {
			add(int(s.MaxWidth), int(s.MaxHeight))
			continue
		}
		add(int(s.MaxWidth), int(s.MaxHeight))
		for _, c := range commonSizes {
			if inStep(c[0], s.MinWidth, s.MaxWidth, s.StepWidth) && inStep(c[1], s.MinHeight, s.MaxHeight, s.StepHeight) {
				add(c[0], c[1])
			}
		}
	}
	slices.SortStableFunc(out, func(a, b [2]int) int { return cmp.Compare(b[0]*b[1], a[0]*a[1]) })
	return out
}

func inStep(v int, lo, hi, step uint32) bool {
	if v < int(lo) || v > int(hi) {
		return false
	}
	return step == 0 || (v-int(lo))%int(step) == 0
}

// frameRates turns frame intervals into rates, highest first. A stepwise
// range contributes its two ends.
func frameRates(rs []webcam.FrameRate) []float64 {
	var out []float64
	add := func(num, den uint32) {
		if num == 0 || den == 0 {
			return
		}
		r := float64(den) / float64(num)
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	for _, r := range rs {
		add(r.MinNumerator, r.MinDenominator)
		add(r.MaxNumerator, r.MaxDenominator)
	}
	slices.SortFunc(out, func(a, b float64) int { return cmp.Compare(b, a) })
	return out
}
