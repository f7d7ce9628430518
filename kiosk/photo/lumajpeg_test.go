package photo_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"kioskd/kiosk/photo"
)

// encodeSampled encodes img as a baseline JPEG at quality q, with the
// quantisation and Huffman tables of jpeg.Encode: luma sampled h x v times
// the chroma (1x1 is 4:4:4, 2x1 4:2:2, 2x2 4:2:0), or grey when h == 0;
// and a restart marker every ri MCUs when ri > 0.
func encodeSampled(tb testing.TB, img *image.NRGBA, q, h, v, ri int) []byte {
	tb.Helper()
	t, err := stdTables(q)
	if err != nil {
		tb.Fatalf("jpeg tables: %v", err)
	}
	grey := h == 0
	if grey {
		h, v = 1, 1
	}
	w, ht := img.Rect.Dx(), img.Rect.Dy()
	var out bytes.Buffer
	seg := func(marker byte, data ...byte) {
		out.Write([]byte{0xFF, marker})
		_ = binary.Write(&out, binary.BigEndian, uint16(len(data)+2))
		out.Write(data)
	}
	out.Write([]byte{0xFF, 0xD8})
	out.Write(t.dqt)
	if grey {
		seg(0xC0, 8, byte(ht>>8), byte(ht), byte(w>>8), byte(w), 1, 1, 0x11, 0)
	} else {
		seg(0xC0, 8, byte(ht>>8), byte(ht), byte(w>>8), byte(w), 3,
			1, byte(h<<4|v), 0, 2, 0x11, 1, 3, 0x11, 1)
	}
	out.Write(t.dht)
	if ri > 0 {
		seg(0xDD, byte(ri>>8), byte(ri))
	}
	if grey {
		seg(0xDA, 1, 1, 0x00, 0, 63, 0)
	} else {
		seg(0xDA, 3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0)
	}
	at := func(x, y int) (yy, cb, cr float64) {
		x, y = min(max(x, 0), w-1), min(max(y, 0), ht-1)
		i := img.PixOffset(img.Rect.Min.X+x, img.Rect.Min.Y+y)
		Y, Cb, Cr := color.RGBToYCbCr(img.Pix[i], img.Pix[i+1], img.Pix[i+2])
		return float64(Y), float64(Cb), float64(Cr)
	}
	bw := &bitWriter{buf: &out}
	var dc [3]int
	var blk [64]float64
	mcu, rst := 0, 0
	for my := 0; my < ht; my += 8 * v {
		for mx := 0; mx < w; mx += 8 * h {
			if ri > 0 && mcu > 0 && mcu%ri == 0 {
				bw.flush()
				out.Write([]byte{0xFF, byte(0xD0 + rst)})
				rst = (rst + 1) & 7
				dc = [3]int{}
			}
			mcu++
			for bv := 0; bv < v; bv++ {
				for bh := 0; bh < h; bh++ {
					for y := 0; y < 8; y++ {
						for x := 0; x < 8; x++ {
							blk[y*8+x], _, _ = at(mx+8*bh+x, my+8*bv+y)
						}
					}
					dc[0] = t.encodeBlock(bw, &blk, 0, dc[0])
				}
			}
			if grey {
				continue
			}
			for c := 1; c <= 2; c++ {
				for y := 0; y < 8; y++ {
					for x := 0; x < 8; x++ {
						var s float64
						for j := 0; j < v; j++ {
							for i := 0; i < h; i++ {
								_, cb, cr := at(mx+h*x+i, my+v*y+j)
								if c == 1 {
									s += cb
								} else {
									s += cr
								}
							}
						}
						blk[y*8+x] = s / float64(h*v)
					}
				}
				dc[c] = t.encodeBlock(bw, &blk, 1, dc[c])
			}
		}
	}
	bw.flush()
	out.Write([]byte{0xFF, 0xD9})
	return out.Bytes()
}

// sceneAt renders the good scene at w x h with sensor noise.
func sceneAt(tb testing.TB, w, h int, noise float64) *image.NRGBA {
	p, astro := fixtures(tb)
	s := goodScene()
	k := float64(h) / 720
	s.W, s.H = w, h
	s.IPD, s.EyeX, s.EyeY = s.IPD*k, s.EyeX*k, s.EyeY*k
	s.Noise = noise
	return s.render(p, astro)
}

// decoderCase is a baseline JPEG that the live loop's decoder handles.
type decoderCase struct {
	name string
	b    []byte
}

// decoderCases are the samplings, qualities, restart intervals and odd
// sizes that both of the decoder's modes must decode as image/jpeg does.
func decoderCases(tb testing.TB) []decoderCase {
	tb.Helper()
	img := sceneAt(tb, 320, 180, 3)
	odd := image.NewNRGBA(image.Rect(0, 0, 301, 173))
	for y := 0; y < 173; y++ {
		copy(odd.Pix[y*odd.Stride:], img.Pix[(y+3)*img.Stride+4*5:][:4*301])
	}
	tests := []struct {
		name    string
		img     *image.NRGBA
		q, h, v int
		ri      int
	}{
		{"422 q85", img, 85, 2, 1, 0},
		{"420 q85", img, 85, 2, 2, 0},
		{"444 q85", img, 85, 1, 1, 0},
		{"440 q75", img, 75, 1, 2, 0},
		{"411 q90", img, 90, 4, 1, 0},
		{"410 q80", img, 80, 4, 2, 0},
		{"grey q85", img, 85, 0, 0, 0},
		{"422 q85 restart 1", img, 85, 2, 1, 1},
		{"420 q60 restart 7", img, 60, 2, 2, 7},
		{"grey q95 restart 13", img, 95, 0, 0, 13},
		{"odd 422 q85", odd, 85, 2, 1, 0},
		{"odd 420 q85 restart 3", odd, 85, 2, 2, 3},
		{"odd 444 q100", odd, 100, 1, 1, 0},
		{"odd 411 q70", odd, 70, 4, 1, 0},
		{"odd grey q50", odd, 50, 0, 0, 0},
	}
	cases := make([]decoderCase, len(tests))
	for i, tc := range tests {
		cases[i] = decoderCase{tc.name, encodeSampled(tb, tc.img, tc.q, tc.h, tc.v, tc.ri)}
	}
	return cases
}

func TestDecodeLumaMatchesImageJPEG(t *testing.T) {
	var dec photo.LumaDecoder
	for _, tc := range decoderCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			ref, err := jpeg.Decode(bytes.NewReader(tc.b))
			if err != nil {
				t.Fatalf("image/jpeg: %v", err)
			}
			got, err := dec.Decode(tc.b, 0)
			if err != nil {
				t.Fatalf("DecodeLuma: %v", err)
			}
			dy, dc := compareLuma(t, got, ref)
			t.Logf("max |dY| %d, max |dC| %.1f", dy, dc)
			if dy > 2 {
				t.Errorf("luma differs from image/jpeg by up to %d levels; want <= 2", dy)
			}
			if dc > 2 {
				t.Errorf("chroma block means differ from image/jpeg's block means by up to %.1f; want <= 2", dc)
			}
		})
	}
}

// compareLuma returns the largest luma difference between the decoder's
// planes and image/jpeg's picture, and the largest difference between its
// chroma and the mean of image/jpeg's chroma over the same block.
func compareLuma(tb testing.TB, got photo.LumaPlanes, ref image.Image) (dy int, dc float64) {
	tb.Helper()
	r := ref.Bounds()
	if got.W != r.Dx() || got.H != r.Dy() {
		tb.Fatalf("size %dx%d; image/jpeg %dx%d", got.W, got.H, r.Dx(), r.Dy())
	}
	var ycc *image.YCbCr
	switch m := ref.(type) {
	case *image.Gray:
		if !got.Gray {
			tb.Fatalf("image/jpeg decodes grey, DecodeLuma colour")
		}
		for y := 0; y < got.H; y++ {
			for x := 0; x < got.W; x++ {
				g, _, _ := got.At(x, y)
				dy = max(dy, absInt(int(g)-int(m.Pix[m.PixOffset(x, y)])))
			}
		}
		return dy, 0
	case *image.YCbCr:
		ycc = m
	default:
		tb.Fatalf("image/jpeg decodes %T", ref)
	}
	for y := 0; y < got.H; y++ {
		for x := 0; x < got.W; x++ {
			g, _, _ := got.At(x, y)
			dy = max(dy, absInt(int(g)-int(ycc.Y[ycc.YOffset(x, y)])))
		}
	}
	// Chroma: ours is one sample per chroma block (8x8 chroma samples);
	// compare it with the mean of image/jpeg's chroma over that block.
	bw, bh := 8*lumaPerChromaX(ycc.SubsampleRatio), 8*lumaPerChromaY(ycc.SubsampleRatio)
	for by := 0; by < got.H; by += bh {
		for bx := 0; bx < got.W; bx += bw {
			if bx+bw > got.W || by+bh > got.H {
				continue // edge blocks: part of the block is padding
			}
			var sb, sr float64
			n := 0
			for y := by; y < min(by+bh, got.H); y++ {
				for x := bx; x < min(bx+bw, got.W); x++ {
					ci := ycc.COffset(x, y)
					sb += float64(ycc.Cb[ci])
					sr += float64(ycc.Cr[ci])
					n++
				}
			}
			_, cb, cr := got.At(bx, by)
			dc = max(dc, absF(sb/float64(n)-float64(cb)), absF(sr/float64(n)-float64(cr)))
		}
	}
	return dy, dc
}

func lumaPerChromaX(r image.YCbCrSubsampleRatio) int {
	switch r {
	case image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420:
		return 2
	case image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410:
		return 4
	}
	return 1
}

func lumaPerChromaY(r image.YCbCrSubsampleRatio) int {
	switch r {
	case image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio410:
		return 2
	}
	return 1
}

func absInt(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func absF(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

func benchDecodeLuma(b *testing.B, w, h int) {
	frame := benchFrame(b, w, h)
	var dec photo.LumaDecoder
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		if _, err := dec.Decode(frame, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/frame")
}

// BenchmarkDecodeLuma720p is the analysis's own decode of the 720p camera
// frame (compare BenchmarkDecode720p: image/jpeg).
func BenchmarkDecodeLuma720p(b *testing.B) { benchDecodeLuma(b, 1280, 720) }

// BenchmarkDecodeLuma1080p: the same at 1920x1080.
func BenchmarkDecodeLuma1080p(b *testing.B) { benchDecodeLuma(b, 1920, 1080) }

// segmentAt returns the index of the first marker m in the JPEG b's
// header segments (before the scan data), or -1.
func segmentAt(b []byte, m byte) int {
	for i := 2; i+4 <= len(b) && b[i] == 0xFF; {
		if b[i+1] == m {
			return i
		}
		if b[i+1] == 0xDA {
			return -1
		}
		i += 2 + int(binary.BigEndian.Uint16(b[i+2:]))
	}
	return -1
}

// patched returns a copy of b with the bytes at segment m's offset off
// (from the marker's 0xFF) set to v.
func patched(tb testing.TB, b []byte, m byte, off int, v ...byte) []byte {
	tb.Helper()
	i := segmentAt(b, m)
	if i < 0 {
		tb.Fatalf("no marker %#x", m)
	}
	b = append([]byte(nil), b...)
	copy(b[i+off:], v)
	return b
}

// inserted returns b with seg inserted before its first DQT.
func inserted(tb testing.TB, b []byte, seg []byte) []byte {
	tb.Helper()
	i := segmentAt(b, 0xDB)
	if i < 0 {
		tb.Fatal("no DQT")
	}
	return append(append(append([]byte(nil), b[:i]...), seg...), b[i:]...)
}

// lumaSeed is one entry of FuzzDecodeLuma's seed corpus, with whether the
// decoder must take it (ok) or leave it to Decode.
type lumaSeed struct {
	name string
	b    []byte
	ok   bool
}

func lumaSeeds(tb testing.TB) []lumaSeed {
	tb.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 37, 21))
	for y := 0; y < 21; y++ {
		for x := 0; x < 37; x++ {
			i := img.PixOffset(x, y)
			n := uint8((x*7919 + y*104729) % 23)
			img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = uint8(6*x)+n, uint8(11*y)+n, uint8(150-3*x+2*y), 255
		}
	}
	s422 := encodeSampled(tb, img, 85, 2, 1, 0)
	rst := encodeSampled(tb, img, 85, 2, 1, 2)
	badRST := append([]byte(nil), rst...)
	if i := bytes.Index(badRST[segmentAt(badRST, 0xDD):], []byte{0xFF, 0xD0}); i >= 0 {
		badRST[segmentAt(badRST, 0xDD)+i+1] = 0xD3
	}
	// A second scan after the first (a multi-scan file) stays with Decode.
	sos := s422[segmentAt(s422, 0xDA):]
	twoScans := append(append([]byte(nil), s422[:len(s422)-2]...), sos...)
	adobeRGB := inserted(tb, encodeSampled(tb, img, 85, 1, 1, 0),
		[]byte{0xFF, 0xEE, 0, 14, 'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, 0})
	return []lumaSeed{
		{"422", s422, true},
		{"420", encodeSampled(tb, img, 75, 2, 2, 0), true},
		{"444", encodeSampled(tb, img, 90, 1, 1, 0), true},
		{"411", encodeSampled(tb, img, 85, 4, 1, 0), true},
		{"grey", encodeSampled(tb, img, 85, 0, 0, 0), true},
		{"422_restart_2", rst, true},
		{"420_restart_1", encodeSampled(tb, img, 60, 2, 2, 1), true},
		{"go_encoder", encodeJPEG(tb, img, 80), true},
		{"truncated", s422[:len(s422)*2/3], false},
		{"no_eoi", s422[:len(s422)-2], false},
		{"bad_restart", badRST, false},
		{"two_scans", twoScans, false},
		{"progressive", patched(tb, s422, 0xC0, 1, 0xC2), false},
		{"12_bit", patched(tb, s422, 0xC0, 4, 12), false},
		{"chroma_2x1", patched(tb, s422, 0xC0, 11, 0x11, 0, 2, 0x21), false},
		{"adobe_rgb", adobeRGB, false},
		{"cmyk", cmykJPEG(), false},
		{"huge", hugeJPEG(s422), false},
		{"png", encodePNG(tb, img), false},
	}
}

// TestLumaSeeds: the decoder takes what it handles and refuses the rest;
// AnalyzeBytes then falls back to Decode, which gives the same outcome as
// calling it directly. The committed corpus must match (-update-fuzz).
func TestLumaSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeLuma")
	if *updateFuzz {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	a := newAnalyzer(t)
	var dec photo.LumaDecoder
	for _, s := range lumaSeeds(t) {
		t.Run(s.name, func(t *testing.T) {
			_, err := dec.Decode(s.b, 0)
			if (err == nil) != s.ok {
				t.Errorf("DecodeLuma(%s) error %v; want ok=%v", s.name, err, s.ok)
			}
			_, aerr := a.AnalyzeBytes(s.b, photo.Options{})
			img, derr := photo.Decode(s.b, 0)
			if used := photo.DecodedWithLuma(a); used != s.ok {
				t.Errorf("AnalyzeBytes(%s) used the luma decoder: %v; want %v", s.name, used, s.ok)
			}
			if (aerr == nil) != (derr == nil) {
				t.Errorf("AnalyzeBytes(%s) error %v; Decode error %v", s.name, aerr, derr)
			}
			if derr == nil && s.ok {
				got, err := dec.Decode(s.b, 0)
				if err != nil {
					t.Fatal(err)
				}
				if dy, _ := compareLuma(t, got, img); dy > 2 {
					t.Errorf("luma differs from image/jpeg by %d levels; want <= 2", dy)
				}
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
		})
	}
}

// TestDecodeLumaTooLarge: the pixel bound is checked on the frame header,
// before any plane is allocated.
func TestDecodeLumaTooLarge(t *testing.T) {
	small := lumaSeeds(t)[0].b
	tests := []struct {
		name      string
		b         []byte
		maxPixels int
	}{
		{"60000x60000, default bound", hugeJPEG(small), 0},
		{"37x21, bound 700", small, 700},
	}
	for _, tc := range tests {
		var dec photo.LumaDecoder
		if _, err := dec.Decode(tc.b, tc.maxPixels); !errors.Is(err, photo.ErrTooLarge) {
			t.Errorf("DecodeLuma(%s) error %v; want ErrTooLarge", tc.name, err)
		}
		if c := dec.PlanesCap(); c != 0 {
			t.Errorf("DecodeLuma(%s) allocated a %d-byte plane", tc.name, c)
		}
	}
}

// FuzzDecodeLuma: any bytes give an error or planes, never a panic; where
// both this decoder and image/jpeg decode a picture, they agree on its size
// and, for coefficients a real 8-bit picture can have, on the luma within
// 2 levels. One decoder serves every input, as in the live loop.
func FuzzDecodeLuma(f *testing.F) {
	var dec photo.LumaDecoder
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := dec.Decode(b, 1<<20)
		if err != nil {
			return
		}
		ref, err := jpeg.Decode(bytes.NewReader(b))
		if err != nil {
			return
		}
		if r := ref.Bounds(); got.W != r.Dx() || got.H != r.Dy() {
			t.Fatalf("size %dx%d; image/jpeg %dx%d", got.W, got.H, r.Dx(), r.Dy())
		}
		_, grey := ref.(*image.Gray)
		if _, ycc := ref.(*image.YCbCr); !grey && !ycc {
			t.Fatalf("image/jpeg decodes %T, which the luma decoder must refuse", ref)
		}
		if got.Gray != grey {
			t.Fatalf("grey %v; image/jpeg %T", got.Gray, ref)
		}
		if got.MaxCoef > 2048 {
			return // beyond 8-bit pictures: image/jpeg's integer IDCT may overflow
		}
		if dy, _ := compareLuma(t, got, ref); dy > 2 {
			t.Fatalf("luma differs from image/jpeg by %d levels", dy)
		}
	})
}

// TestAnalyzeBytesLumaPath: the live loop's decode (block-mean chroma)
// gives the verdicts and, within small tolerances, the measures of a full
// image/jpeg decode, on camera-like 4:2:2 frames of colour-sensitive
// cases, upright and turned.
func TestAnalyzeBytesLumaPath(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: renders 720p frames")
	}
	p, astro := fixtures(t)
	byName := map[string]booth{}
	for _, bc := range booths {
		byName[bc.name] = bc
	}
	tests := []struct {
		booth    string
		rotation int
	}{
		{"good", 0},
		{"good_keep", 0},
		{"blue_shirt", 0},
		{"keep_wrong_colour", 0},
		{"busy_background", 0},
		{"wall_shadow", 0},
		{"good", 90},
		{"good", 180},
		{"good", 270},
	}
	live, full := newAnalyzer(t), newAnalyzer(t)
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s_%d", tc.booth, tc.rotation), func(t *testing.T) {
			bc := byName[tc.booth]
			s := goodScene()
			bc.edit(&s)
			s.Noise = 3
			img := s.render(p, astro)
			// The camera's raw frame: the scene turned back by the rotation.
			for r := 0; r < tc.rotation; r += 90 {
				img = rotateCCW(img)
			}
			b := encodeMJPEG(t, img, 85)
			opt := photo.Options{Background: bc.mode, Rotation: tc.rotation}
			got, err := live.AnalyzeBytes(b, opt)
			if err != nil {
				t.Fatal(err)
			}
			if !photo.DecodedWithLuma(live) {
				t.Fatal("AnalyzeBytes did not use the luma decoder on a camera frame")
			}
			dec, err := photo.Decode(b, 0)
			if err != nil {
				t.Fatal(err)
			}
			want, err := full.Analyze(dec, opt)
			if err != nil {
				t.Fatal(err)
			}
			if got.Faces != want.Faces || got.Ready != want.Ready {
				t.Fatalf("faces %d ready %v; full decode: faces %d ready %v", got.Faces, got.Ready, want.Faces, want.Ready)
			}
			for i, c := range got.Checks {
				if w := want.Checks[i]; c.ID != w.ID || c.Status != w.Status {
					t.Errorf("check %s = %s (%v); full decode: %s (%v)", c.ID, c.Status, c.Value, w.Status, w.Value)
				}
			}
			g, w := got.Geometry, want.Geometry
			if g.Width != w.Width || g.Height != w.Height {
				t.Errorf("size %dx%d; full decode %dx%d", g.Width, g.Height, w.Width, w.Height)
			}
			gm, wm := got.Measures, want.Measures
			for _, d := range []struct {
				name      string
				got, want float64
				tol       float64
			}{
				{"pupil[0].x", g.Pupils[0].X, w.Pupils[0].X, 1.5},
				{"pupil[0].y", g.Pupils[0].Y, w.Pupils[0].Y, 1.5},
				{"pupil[1].x", g.Pupils[1].X, w.Pupils[1].X, 1.5},
				{"pupil[1].y", g.Pupils[1].Y, w.Pupils[1].Y, 1.5},
				{"crown", g.CrownY, w.CrownY, 2},
				{"face luma", gm.FaceLuma, wm.FaceLuma, 0.005},
				{"background L*", gm.Background.L, wm.Background.L, 0.3},
				{"background spread", gm.Background.Spread, wm.Background.Spread, 0.5},
				{"background shadow", gm.Background.Shadow, wm.Background.Shadow, 0.5},
				{"background ΔE", gm.Background.DeltaE, wm.Background.DeltaE, 0.5},
				{"clothing ΔE", gm.Clothing.DeltaE, wm.Clothing.DeltaE, 0.75},
				{"clothing chroma", gm.Clothing.Chroma, wm.Clothing.Chroma, 0.5},
			} {
				t.Logf("%s: %.3f (full %.3f)", d.name, d.got, d.want)
				if absF(d.got-d.want) > d.tol {
					t.Errorf("%s = %.3f; full decode %.3f (tolerance %.2f)", d.name, d.got, d.want, d.tol)
				}
			}
		})
	}
}

// TestLumaDecoderReuse: one decoder across frames of different sizes and
// layouts gives what a fresh decoder gives, and keeps its planes when a
// frame fits in them.
func TestLumaDecoderReuse(t *testing.T) {
	big := sceneAt(t, 320, 180, 3)
	small := sceneAt(t, 160, 90, 3)
	frames := [][]byte{
		encodeSampled(t, big, 85, 2, 1, 0),
		encodeSampled(t, small, 85, 0, 0, 0),
		encodeSampled(t, small, 85, 2, 2, 4),
		encodeSampled(t, big, 70, 1, 1, 0),
	}
	var reused photo.LumaDecoder
	var addr *uint8
	for i, b := range frames {
		got, err := reused.Decode(b, 0)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if i == 0 {
			addr = reused.PlanesAddr()
		} else if reused.PlanesAddr() != addr {
			t.Errorf("frame %d: luma plane reallocated for a frame that fits", i)
		}
		var fresh photo.LumaDecoder
		want, err := fresh.Decode(b, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got.W != want.W || got.H != want.H || got.Gray != want.Gray {
			t.Fatalf("frame %d: %dx%d grey %v; fresh %dx%d grey %v", i, got.W, got.H, got.Gray, want.W, want.H, want.Gray)
		}
		for y := 0; y < got.H; y++ {
			for x := 0; x < got.W; x++ {
				if a, b := fmt.Sprint(got.At(x, y)), fmt.Sprint(want.At(x, y)); a != b {
					t.Fatalf("frame %d (%d,%d): %s; fresh decoder %s", i, x, y, a, b)
				}
			}
		}
	}
}
