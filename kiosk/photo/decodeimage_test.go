package photo_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"reflect"
	"runtime"
	"testing"

	"kioskd/kiosk/photo"
)

// TestDecodeImageMatchesImageJPEG: Decode's own baseline decoder gives the
// picture image/jpeg gives, in the same layout (type, bounds, subsampling,
// strides), every sample within 2 levels, the same on one CPU as on
// several, with the live loop's luma exactly; and Decode uses it.
func TestDecodeImageMatchesImageJPEG(t *testing.T) {
	for _, tc := range decoderCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			ref, err := jpeg.Decode(bytes.NewReader(tc.b))
			if err != nil {
				t.Fatalf("image/jpeg: %v", err)
			}
			got, _, err := photo.DecodeImage(tc.b, 0)
			if err != nil {
				t.Fatalf("DecodeImage: %v", err)
			}
			d := comparePictures(t, got, ref)
			t.Logf("max |d| %d", d)
			if d > 2 {
				t.Errorf("samples differ from image/jpeg by up to %d levels; want <= 2", d)
			}
			via, err := photo.Decode(tc.b, 0)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if comparePictures(t, via, got) != 0 {
				t.Error("Decode's picture is not its own decoder's")
			}
			// The live loop's decode has the very same luma.
			var live photo.LumaDecoder
			planes, err := live.Decode(tc.b, 0)
			if err != nil {
				t.Fatalf("live decode: %v", err)
			}
			if dy, _ := compareLuma(t, planes, got); dy != 0 {
				t.Errorf("the live loop's luma differs from the full decode's by up to %d levels", dy)
			}
			// One CPU: the transforms inline, not in workers.
			old := runtime.GOMAXPROCS(1)
			one, _, err := photo.DecodeImage(tc.b, 0)
			runtime.GOMAXPROCS(old)
			if err != nil {
				t.Fatalf("DecodeImage on one CPU: %v", err)
			}
			if d := comparePictures(t, one, got); d != 0 {
				t.Errorf("one CPU and several differ by up to %d levels", d)
			}
		})
	}
}

// TestDecodeFallsBack: what the baseline decoder refuses, Decode hands to
// image/jpeg (or image/png), with the same outcome as calling it
// directly; a header over the pixel bound is refused before either.
func TestDecodeFallsBack(t *testing.T) {
	for _, s := range lumaSeeds(t) {
		t.Run(s.name, func(t *testing.T) {
			_, _, ferr := photo.DecodeImage(s.b, 0)
			if (ferr == nil) != s.ok {
				t.Errorf("DecodeImage error %v; want ok=%v", ferr, s.ok)
			}
			got, err := photo.Decode(s.b, 0)
			switch s.name {
			case "huge":
				if !errors.Is(err, photo.ErrTooLarge) {
					t.Errorf("Decode error %v; want ErrTooLarge", err)
				}
				return
			case "png":
				ref, rerr := png.Decode(bytes.NewReader(s.b))
				if rerr != nil || err != nil || !reflect.DeepEqual(got, ref) {
					t.Errorf("Decode (%v) differs from image/png (%v)", err, rerr)
				}
				return
			}
			ref, rerr := jpeg.Decode(bytes.NewReader(s.b))
			if (err == nil) != (rerr == nil) {
				t.Fatalf("Decode error %v; image/jpeg error %v", err, rerr)
			}
			switch {
			case err != nil:
			case s.ok:
				if d := comparePictures(t, got, ref); d > 2 {
					t.Errorf("samples differ from image/jpeg by up to %d levels; want <= 2", d)
				}
			case !reflect.DeepEqual(got, ref):
				t.Errorf("Decode's %T is not image/jpeg's %T", got, ref)
			}
		})
	}
}

// comparePictures checks that got has ref's type and layout and returns
// the largest difference of a sample inside the picture.
func comparePictures(tb testing.TB, got, ref image.Image) int {
	tb.Helper()
	if got.Bounds() != ref.Bounds() {
		tb.Fatalf("bounds %v; want %v", got.Bounds(), ref.Bounds())
	}
	r := ref.Bounds()
	d := 0
	switch m := ref.(type) {
	case *image.Gray:
		g, ok := got.(*image.Gray)
		if !ok {
			tb.Fatalf("decoded %T; want %T", got, ref)
		}
		if g.Stride != m.Stride {
			tb.Errorf("stride %d; want %d", g.Stride, m.Stride)
		}
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				d = max(d, absInt(int(g.Pix[g.PixOffset(x, y)])-int(m.Pix[m.PixOffset(x, y)])))
			}
		}
	case *image.YCbCr:
		g, ok := got.(*image.YCbCr)
		if !ok {
			tb.Fatalf("decoded %T; want %T", got, ref)
		}
		if g.SubsampleRatio != m.SubsampleRatio || g.YStride != m.YStride || g.CStride != m.CStride {
			tb.Errorf("layout %v, strides %d/%d; want %v, %d/%d",
				g.SubsampleRatio, g.YStride, g.CStride, m.SubsampleRatio, m.YStride, m.CStride)
		}
		if len(g.Y) < len(m.Y) || len(g.Cb) < len(m.Cb) || len(g.Cr) < len(m.Cr) {
			tb.Errorf("planes %d/%d/%d bytes; want at least %d/%d/%d",
				len(g.Y), len(g.Cb), len(g.Cr), len(m.Y), len(m.Cb), len(m.Cr))
		}
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				yi, ci := m.YOffset(x, y), m.COffset(x, y)
				d = max(d,
					absInt(int(g.Y[g.YOffset(x, y)])-int(m.Y[yi])),
					absInt(int(g.Cb[g.COffset(x, y)])-int(m.Cb[ci])),
					absInt(int(g.Cr[g.COffset(x, y)])-int(m.Cr[ci])))
			}
		}
	default:
		tb.Fatalf("image/jpeg decodes %T", ref)
	}
	return d
}

// FuzzDecodeImage: any bytes give an error or a picture, never a panic;
// where image/jpeg decodes the same bytes, the two agree on the type and
// layout and, for coefficients an 8-bit picture can have, on every sample
// within 2 levels. The seeds are FuzzDecodeLuma's.
func FuzzDecodeImage(f *testing.F) {
	for _, s := range lumaSeeds(f) {
		f.Add(s.b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, maxCoef, err := photo.DecodeImage(b, 1<<20)
		if err != nil {
			return
		}
		ref, err := jpeg.Decode(bytes.NewReader(b))
		if err != nil {
			return
		}
		if got.Bounds() != ref.Bounds() {
			t.Fatalf("bounds %v; image/jpeg %v", got.Bounds(), ref.Bounds())
		}
		switch ref.(type) {
		case *image.Gray, *image.YCbCr:
		default:
			t.Fatalf("image/jpeg decodes %T, which DecodeImage must refuse", ref)
		}
		if maxCoef > 2048 {
			return // beyond 8-bit pictures: image/jpeg's integer IDCT may overflow
		}
		if d := comparePictures(t, got, ref); d > 2 {
			t.Fatalf("samples differ from image/jpeg by %d levels", d)
		}
	})
}

// TestDecodeImageAfterBrokenFrames: a scan that breaks off halfway leaves
// nothing behind for the next picture, in either mode (both reuse their
// coefficient buffers).
func TestDecodeImageAfterBrokenFrames(t *testing.T) {
	good := decoderCases(t)[0].b
	ref, err := jpeg.Decode(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	broken := append([]byte(nil), good[:len(good)*2/3]...)
	garbled := append([]byte(nil), good...)
	for i := len(garbled) / 2; i < len(garbled)-2; i += 7 {
		garbled[i] = 0xA5 // invalid codes, not markers
	}
	var live photo.LumaDecoder // the live loop's: one decoder for every frame
	for i := 0; i < 20; i++ {
		for _, b := range [][]byte{broken, garbled} {
			if _, _, err := photo.DecodeImage(b, 0); err == nil {
				t.Fatal("a broken frame decoded")
			}
			if _, err := live.Decode(b, 0); err == nil {
				t.Fatal("a broken frame decoded (live)")
			}
		}
		planes, err := live.Decode(good, 0)
		if err != nil {
			t.Fatal(err)
		}
		if dy, _ := compareLuma(t, planes, ref); dy > 2 {
			t.Fatalf("after broken frames, the live decoder's luma differs from image/jpeg by %d levels", dy)
		}
		got, _, err := photo.DecodeImage(good, 0)
		if err != nil {
			t.Fatal(err)
		}
		if d := comparePictures(t, got, ref); d > 2 {
			t.Fatalf("after broken frames, samples differ from image/jpeg by %d levels", d)
		}
	}
}

// TestDecodeImageOddSampling: luma sampled 1x4 or 2x4 times the chroma,
// which image.YCbCr cannot lay out, is left to image/jpeg, and Decode
// answers as image/jpeg does.
func TestDecodeImageOddSampling(t *testing.T) {
	img := sceneAt(t, 64, 48, 2)
	for _, s := range [][2]int{{1, 4}, {2, 4}, {4, 4}} {
		b := encodeSampled(t, img, 85, s[0], s[1], 0)
		if _, _, err := photo.DecodeImage(b, 0); err == nil {
			t.Errorf("%dx%d: DecodeImage took it", s[0], s[1])
		}
		got, err := photo.Decode(b, 0)
		ref, rerr := jpeg.Decode(bytes.NewReader(b))
		if (err == nil) != (rerr == nil) || (err == nil && !reflect.DeepEqual(got, ref)) {
			t.Errorf("%dx%d: Decode (%v) differs from image/jpeg (%v)", s[0], s[1], err, rerr)
		}
	}
}

// TestDecodeImageShortScan: a header of a few hundred bytes that claims
// a picture of almost 25 MP, with a scan far too short for its blocks, is
// refused before the planes are allocated.
func TestDecodeImageShortScan(t *testing.T) {
	b := append([]byte(nil), lumaSeeds(t)[0].b...)
	i := segmentAt(b, 0xC0)
	binary.BigEndian.PutUint16(b[i+5:], 381)   // height
	binary.BigEndian.PutUint16(b[i+7:], 65535) // width: 24.97 MP, under the bound
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err := photo.DecodeImage(b, 0)
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("a 65535x381 picture decoded from a few hundred bytes")
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("the refusal allocated %d KB", grew>>10)
	}
}
