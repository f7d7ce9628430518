package photo_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"kioskd/kiosk/photo"
)

// testPicture is a small picture with texture, so every quality gives
// different bytes.
func testPicture(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := img.PixOffset(x, y)
			img.Pix[i] = uint8(x * 255 / w)
			img.Pix[i+1] = uint8((x*y)%251 + 2)
			img.Pix[i+2] = uint8(y * 255 / h)
			img.Pix[i+3] = 255
		}
	}
	return img
}

// segment builds a marker segment with its length field.
func segment(marker byte, payload []byte) []byte {
	b := []byte{0xFF, marker}
	b = binary.BigEndian.AppendUint16(b, uint16(len(payload)+2))
	return append(b, payload...)
}

// withSegments inserts segments right after SOI.
func withSegments(jpg []byte, segs ...[]byte) []byte {
	out := append([]byte(nil), jpg[:2]...)
	for _, s := range segs {
		out = append(out, s...)
	}
	return append(out, jpg[2:]...)
}

// TestParseJPEGQuality: the quality read back from the quantisation tables
// is the quality Go's encoder was given, for every quality.
func TestParseJPEGQuality(t *testing.T) {
	img := testPicture(40, 24)
	for q := 1; q <= 100; q++ {
		b := encodeJPEG(t, img, q)
		info, err := photo.ParseJPEG(b)
		if err != nil {
			t.Fatalf("ParseJPEG(q%d): %v", q, err)
		}
		// Qualities whose 8-bit tables coincide cannot be told apart;
		// then the estimate must give the same tables.
		if info.Quality != q && !bytes.Equal(dqt(t, b), dqt(t, encodeJPEG(t, img, info.Quality))) {
			t.Errorf("ParseJPEG(q%d).Quality = %d (error %v)", q, info.Quality, info.QualityError)
		}
		if info.QualityError != 0 {
			t.Errorf("ParseJPEG(q%d).QualityError = %v; want 0 for Go's own tables", q, info.QualityError)
		}
		if info.Width != 40 || info.Height != 24 || info.Components != 3 || !info.Baseline || info.Sampling != "2x2" {
			t.Errorf("ParseJPEG(q%d) = %dx%d, %d components, baseline %v, sampling %s; want 40x24, 3, true, 2x2",
				q, info.Width, info.Height, info.Components, info.Baseline, info.Sampling)
		}
	}
	// A table that is not IJG's: the nearest quality, with an error.
	b := encodeJPEG(t, img, 80)
	b2 := append([]byte(nil), b...)
	i := bytes.Index(b2, []byte{0xFF, 0xDB})
	b2[i+5] += 9 // first luminance coefficient
	info, err := photo.ParseJPEG(b2)
	if err != nil {
		t.Fatal(err)
	}
	if info.QualityError == 0 || info.Quality < 75 || info.Quality > 85 {
		t.Errorf("altered table: quality %d error %v; want near 80 with an error", info.Quality, info.QualityError)
	}
}

// dqt returns the DQT segments of a JPEG made by Go's encoder.
func dqt(t testing.TB, b []byte) []byte {
	t.Helper()
	i := bytes.Index(b, []byte{0xFF, 0xDB})
	j := bytes.Index(b, []byte{0xFF, 0xC0})
	if i < 0 || j < i {
		t.Fatalf("no DQT before SOF0")
	}
	return b[i:j]
}

// TestSetJFIFDensity: the density segment replaces any JFIF and EXIF
// segment, comes right after SOI, and the pixels are unchanged.
func TestSetJFIFDensity(t *testing.T) {
	img := testPicture(33, 17)
	plain := encodeJPEG(t, img, 90)
	jfif72 := segment(0xE0, []byte{'J', 'F', 'I', 'F', 0, 1, 2, 1, 0, 72, 0, 72, 0, 0})
	exif := segment(0xE1, append([]byte("Exif\x00\x00"), bytes.Repeat([]byte{'G', 'P', 'S'}, 20)...))
	com := segment(0xFE, []byte("camera serial 1234"))
	tests := []struct {
		name string
		in   []byte
		dpi  int
	}{
		{"go encoder output", plain, 300},
		{"existing 72 dpi JFIF, EXIF and comment", withSegments(plain, jfif72, exif, com), 300},
		{"350 dpi", withSegments(plain, exif), 350},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := photo.SetJFIFDensity(tt.in, tt.dpi)
			if err != nil {
				t.Fatal(err)
			}
			// Read the header by hand, not with ParseJPEG.
			want := []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 1,
				byte(tt.dpi >> 8), byte(tt.dpi), byte(tt.dpi >> 8), byte(tt.dpi), 0, 0}
			if !bytes.Equal(out[:20], want) {
				t.Errorf("header = % X; want % X", out[:20], want)
			}
			if bytes.Contains(out, []byte("Exif")) || bytes.Contains(out, []byte("serial")) || bytes.Count(out, []byte("JFIF")) != 1 {
				t.Errorf("EXIF, comment or a second JFIF survived")
			}
			if len(out) != len(plain)+18 {
				t.Errorf("len = %d; want the plain file + 18 = %d", len(out), len(plain)+18)
			}
			a, err := jpeg.Decode(bytes.NewReader(out))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			b, _ := jpeg.Decode(bytes.NewReader(plain))
			if !bytes.Equal(a.(*image.YCbCr).Y, b.(*image.YCbCr).Y) || !bytes.Equal(a.(*image.YCbCr).Cr, b.(*image.YCbCr).Cr) {
				t.Error("pixels changed")
			}
			info, err := photo.ParseJPEG(out)
			if err != nil {
				t.Fatal(err)
			}
			if x, y := info.DPI(); !info.JFIF || x != float64(tt.dpi) || y != float64(tt.dpi) || info.EXIF || info.APPs != 1 {
				t.Errorf("ParseJPEG = JFIF %v %vx%v dpi, EXIF %v, %d APPs; want %d dpi, one APP0", info.JFIF, x, y, info.EXIF, info.APPs, tt.dpi)
			}
		})
	}
	if _, err := photo.SetJFIFDensity(plain, 0); err == nil {
		t.Error("SetJFIFDensity(0 dpi): no error")
	}
}

// jpegSeeds are the seed corpus of FuzzParseJPEG, with whether ParseJPEG
// must accept them.
func jpegSeeds(t testing.TB) []struct {
	name string
	b    []byte
	ok   bool
} {
	plain := encodeJPEG(t, testPicture(16, 8), 75)
	withJFIF, err := photo.SetJFIFDensity(plain, 300)
	if err != nil {
		t.Fatal(err)
	}
	exif := withSegments(plain, segment(0xE1, []byte("Exif\x00\x00MM\x00*")))
	sof := bytes.Index(plain, []byte{0xFF, 0xC0})
	progressive := append([]byte(nil), plain...)
	progressive[sof+1] = 0xC2
	dqt16 := withSegments(plain[:2], segment(0xDB, append([]byte{0x10}, make([]byte, 128)...)))
	dqt16 = append(dqt16, plain[2:]...)
	badLen := append([]byte(nil), plain...)
	badLen[4], badLen[5] = 0xFF, 0xF0
	return []struct {
		name string
		b    []byte
		ok   bool
	}{
		{"go_encoder", plain, true},
		{"jfif_300dpi", withJFIF, true},
		{"exif", exif, true},
		{"progressive_sof", progressive, true},
		{"dqt_16bit", dqt16, true},
		{"fill_bytes", append([]byte{0xFF, 0xD8, 0xFF, 0xFF}, plain[2:]...), true},
		{"truncated_header", plain[:sof+4], false},
		{"bad_length", badLen, false},
		{"no_soi", plain[2:], false},
		{"empty", nil, false},
	}
}

// TestJPEGSeeds checks the parser on each seed and that the committed
// corpus matches the generated seeds (-update-fuzz rewrites it).
func TestJPEGSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzParseJPEG")
	if *updateFuzz {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range jpegSeeds(t) {
		info, err := photo.ParseJPEG(s.b)
		if (err == nil) != s.ok {
			t.Errorf("ParseJPEG(%s): err = %v; want ok=%v", s.name, err, s.ok)
		}
		if err != nil && !errors.Is(err, photo.ErrJPEG) {
			t.Errorf("ParseJPEG(%s): err = %v; want ErrJPEG", s.name, err)
		}
		if s.name == "progressive_sof" && (info.Baseline || info.SOF != 0xC2) {
			t.Errorf("progressive: baseline %v SOF %X", info.Baseline, info.SOF)
		}
		if s.name == "exif" && !info.EXIF {
			t.Error("exif seed: EXIF not seen")
		}
		file := filepath.Join(dir, s.name)
		want := "go test fuzz v1\n[]byte(" + strconv.Quote(string(s.b)) + ")\n"
		if *updateFuzz {
			if err := os.WriteFile(file, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := os.ReadFile(file); err != nil || string(got) != want {
			t.Errorf("seed %s missing or stale (run with -update-fuzz): %v", s.name, err)
		}
	}
}

// FuzzParseJPEG: any bytes give an error or a header, never a panic; a
// header that parses takes a density segment, and the result parses to
// the same frame with exactly that density and no other APP segment.
func FuzzParseJPEG(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := photo.ParseJPEG(b)
		if err != nil {
			if !errors.Is(err, photo.ErrJPEG) {
				t.Fatalf("error %v does not wrap ErrJPEG", err)
			}
			return
		}
		if info.Quality < 0 || info.Quality > 100 {
			t.Fatalf("quality %d", info.Quality)
		}
		out, err := photo.SetJFIFDensity(b, 300)
		if err != nil {
			t.Fatalf("SetJFIFDensity after ParseJPEG succeeded: %v", err)
		}
		again, err := photo.ParseJPEG(out)
		if err != nil {
			t.Fatalf("ParseJPEG(SetJFIFDensity(b)): %v", err)
		}
		x, y := again.DPI()
		if !again.JFIF || x != 300 || y != 300 || again.APPs != 1 || again.EXIF {
			t.Fatalf("after SetJFIFDensity: JFIF %v %vx%v, %d APPs, EXIF %v", again.JFIF, x, y, again.APPs, again.EXIF)
		}
		if again.Width != info.Width || again.Height != info.Height || again.Quant != info.Quant && !sameQuant(again.Quant, info.Quant) {
			t.Fatalf("frame changed: %dx%d -> %dx%d", info.Width, info.Height, again.Width, again.Height)
		}
	})
}

func sameQuant(a, b [4]*[64]uint16) bool {
	for i := range a {
		if (a[i] == nil) != (b[i] == nil) || a[i] != nil && *a[i] != *b[i] {
			return false
		}
	}
	return true
}

// noisyPortrait is a 480x640 picture whose JPEG size grows with noise.
func noisyPortrait(noise float64) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, 480, 640))
	rng := rand.New(rand.NewPCG(9, uint64(noise*10)))
	for y := 0; y < 640; y++ {
		for x := 0; x < 480; x++ {
			i := img.PixOffset(x, y)
			base := [3]float64{67, 142, 219}
			if math.Hypot(float64(x-240), float64(y-330)*0.8) < 150 {
				base = [3]float64{180 + 40*math.Sin(float64(x)/9), 140, 120}
			}
			for c := 0; c < 3; c++ {
				img.Pix[i+c] = uint8(max(0, min(255, base[c]+noise*rng.NormFloat64())))
			}
			img.Pix[i+3] = 255
		}
	}
	return img
}

// TestEncodeWindow: the size search finds a quality inside the window in
// a few encodes whenever one exists (checked against every quality), and
// otherwise returns the highest quality that fits, or minQ within the hard
// maximum, or an error above it.
func TestEncodeWindow(t *testing.T) {
	const minB, maxB, hard = 30720, 40000, 60000
	// noise 0: below the window even at 95; 2, 6, 14: inside it at
	// qualities from 91 down to 62; 30: above the hard maximum at 60.
	noises := []float64{0, 2, 6, 14, 30}
	if testing.Short() {
		noises = []float64{2, 14}
	}
	for _, noise := range noises {
		img := noisyPortrait(noise)
		// every quality's size, by a plain encode with the density set
		sizes := map[int]int{}
		inWindow := false
		for q := 60; q <= 95; q++ {
			b := encodeJPEG(t, img, q)
			d, err := photo.SetJFIFDensity(b, 300)
			if err != nil {
				t.Fatal(err)
			}
			sizes[q] = len(d)
			inWindow = inWindow || (len(d) >= minB && len(d) <= maxB)
		}
		file, q, tries, err := photo.EncodeWindow(img, 300, 60, minB, maxB, hard)
		t.Logf("noise %v: q %d, %d bytes, tries %v, err %v", noise, q, len(file), tries, err)
		if err != nil {
			if sizes[60] <= hard {
				t.Errorf("noise %v: %v, but quality 60 gives %d bytes", noise, err, sizes[60])
			}
			continue
		}
		if len(file) != sizes[q] {
			t.Errorf("noise %v: quality %d gave %d bytes; a plain encode %d", noise, q, len(file), sizes[q])
		}
		switch {
		case inWindow:
			if len(file) < minB || len(file) > maxB {
				t.Errorf("noise %v: %d bytes at quality %d, outside the window that quality %v reach", noise, len(file), q, sizes)
			}
			if len(tries) > 4 {
				t.Errorf("noise %v: %d encodes; want <= 4", noise, len(tries))
			}
		case sizes[60] > maxB:
			if q != 60 {
				t.Errorf("noise %v: quality %d; want the lowest, 60", noise, q)
			}
		default:
			for qq := q + 1; qq <= 95; qq++ {
				if sizes[qq] <= maxB {
					t.Errorf("noise %v: quality %d chosen, %d also fits (%d bytes)", noise, q, qq, sizes[qq])
				}
			}
		}
	}
}
