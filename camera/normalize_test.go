package camera_test

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"testing"

	"kioskd/camera"
)

func TestNormalizeJPEG(t *testing.T) {
	color64 := testJPEG(t, 64, 48, 7)
	var gray bytes.Buffer
	g := image.NewGray(image.Rect(0, 0, 40, 30))
	for i := range g.Pix {
		g.Pix[i] = uint8(i)
	}
	if err := jpeg.Encode(&gray, g, nil); err != nil {
		t.Fatal(err)
	}
	noDHT := stripDHT(t, color64)
	padded := append(append([]byte(nil), color64...), 0, 0, 0, 0xFF, 0)
	sof := bytes.Index(color64, []byte{0xFF, 0xC0})
	zeroHeight := append([]byte(nil), color64...)
	zeroHeight[sof+5], zeroHeight[sof+6] = 0, 0
	overrun := append([]byte(nil), color64[:sof+2]...)
	overrun = append(overrun, 0xFF, 0xFF) // a segment length past the end
	sos := bytes.Index(color64, []byte{0xFF, 0xDA})
	scanFirst := append([]byte{0xFF, 0xD8}, color64[sos:]...) // SOS before SOF

	for _, tc := range []struct {
		name string
		in   []byte
		want []byte // nil: an error
		w, h int
	}{
		{"complete colour frame", color64, color64, 64, 48},
		{"gray frame", gray.Bytes(), gray.Bytes(), 40, 30},
		{"padding after EOI", padded, color64, 64, 48},
		{"empty", nil, nil, 0, 0},
		{"no SOI", color64[2:], nil, 0, 0},
		{"truncated", color64[:len(color64)/2], nil, 0, 0},
		{"no EOI", color64[:len(color64)-2], nil, 0, 0},
		{"headers only", color64[:sos], nil, 0, 0},
		{"zero height", zeroHeight, nil, 0, 0},
		{"segment overruns", overrun, nil, 0, 0},
		{"scan before frame header", scanFirst, nil, 0, 0},
		{"garbage", bytes.Repeat([]byte{0xFF, 0xD8, 0xFF}, 40), nil, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, w, h, err := camera.NormalizeJPEG(tc.in)
			if tc.want == nil {
				if err == nil || !errors.Is(err, camera.ErrBadFrame) || out != nil {
					t.Errorf("NormalizeJPEG = %d bytes, %v; want nil and an ErrBadFrame", len(out), err)
				}
				return
			}
			if err != nil || !bytes.Equal(out, tc.want) || w != tc.w || h != tc.h {
				t.Errorf("NormalizeJPEG = %d bytes (equal %v), %dx%d, %v; want the %d bytes up to EOI, %dx%d",
					len(out), bytes.Equal(out, tc.want), w, h, err, len(tc.want), tc.w, tc.h)
			}
		})
	}

	t.Run("missing Huffman tables", func(t *testing.T) {
		if _, err := jpeg.Decode(bytes.NewReader(noDHT)); err == nil {
			t.Fatal("a frame without DHT decodes as it is; the test proves nothing")
		}
		out, w, h, err := camera.NormalizeJPEG(noDHT)
		if err != nil || w != 64 || h != 48 {
			t.Fatalf("NormalizeJPEG = %dx%d, %v; want 64x48", w, h, err)
		}
		if len(out) != len(noDHT)+len(camera.StandardDHT) {
			t.Errorf("len(out) = %d; want %d + the %d-byte DHT", len(out), len(noDHT), len(camera.StandardDHT))
		}
		// Go's encoder codes with the Annex K tables: inserting ours must
		// give back exactly the picture the original decodes to.
		want, got := decode(t, color64), decode(t, out)
		if !samePixels(want, got) {
			t.Error("the frame with the inserted tables decodes to other pixels than the original")
		}
		if again, _, _, _ := camera.NormalizeJPEG(out); !bytes.Equal(again, out) {
			t.Error("normalizing a normalized frame changed it")
		}
		copied, _, _, err := camera.CopyFrame(noDHT)
		if err != nil || !bytes.Equal(copied, out) {
			t.Errorf("CopyFrame = %v; want the same bytes as NormalizeJPEG", err)
		}
	})
}

func TestStandardDHT(t *testing.T) {
	d := camera.StandardDHT
	// One segment: marker, length, then four tables of 1+16+n bytes with
	// n = 12, 162, 12, 162 symbols (Annex K.3, Tables K.3 to K.6).
	wantLen := 2 + 2 + 4*17 + 12 + 162 + 12 + 162
	if len(d) != wantLen || d[0] != 0xFF || d[1] != 0xC4 || int(d[2])<<8|int(d[3]) != wantLen-2 {
		t.Fatalf("StandardDHT: %d bytes, header % x; want %d bytes, FF C4 and length %d", len(d), d[:4], wantLen, wantLen-2)
	}
}

func samePixels(a, b image.Image) bool {
	if a.Bounds() != b.Bounds() {
		return false
	}
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			if color.RGBAModel.Convert(a.At(x, y)) != color.RGBAModel.Convert(b.At(x, y)) {
				return false
			}
		}
	}
	return true
}

// FuzzNormalizeJPEG feeds hostile bytes to NormalizeJPEG. It must never
// panic; what it accepts must be a JPEG stream that image/jpeg reads with
// the size reported; it must never break a frame that decoded before; and
// the capture loop's copy must give the same bytes.
func FuzzNormalizeJPEG(f *testing.F) {
	good := testJPEG(f, 16, 8, 1)
	f.Add(good)
	f.Add(stripDHT(f, good))
	f.Add(good[:len(good)-5])
	f.Fuzz(func(t *testing.T, in []byte) {
		out, w, h, err := camera.NormalizeJPEG(in)
		if err != nil {
			if !errors.Is(err, camera.ErrBadFrame) || out != nil {
				t.Fatalf("NormalizeJPEG = %d bytes, %v; want nil and an ErrBadFrame", len(out), err)
			}
			return
		}
		if len(out) < 4 || out[0] != 0xFF || out[1] != 0xD8 || out[len(out)-2] != 0xFF || out[len(out)-1] != 0xD9 {
			t.Fatalf("output is not SOI..EOI: % x ... % x", out[:min(4, len(out))], out[max(0, len(out)-2):])
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(out))
		if err != nil || cfg.Width != w || cfg.Height != h {
			t.Fatalf("DecodeConfig(out) = %dx%d, %v; NormalizeJPEG said %dx%d", cfg.Width, cfg.Height, err, w, h)
		}
		if before, err := jpeg.Decode(bytes.NewReader(in)); err == nil {
			after, err := jpeg.Decode(bytes.NewReader(out))
			if err != nil || after.Bounds() != before.Bounds() {
				t.Fatalf("the input decoded (%v) but the output does not: %v", before.Bounds(), err)
			}
		}
		copied, cw, ch, err := camera.CopyFrame(in)
		if err != nil || !bytes.Equal(copied, out) || cw != w || ch != h {
			t.Fatalf("CopyFrame = %d bytes, %dx%d, %v; want NormalizeJPEG's result", len(copied), cw, ch, err)
		}
	})
}

// BenchmarkCopyFrame measures what the capture loop does with each 1080p
// MJPEG frame once it is dequeued: check it and copy it out of the driver's
// buffer, with and without the Huffman tables to insert.
func BenchmarkCopyFrame(b *testing.B) {
	frame := noisyJPEG(b, 1920, 1080)
	for _, bc := range []struct {
		name  string
		frame []byte
	}{
		{"1080p", frame},
		{"1080p-noDHT", stripDHT(b, frame)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.frame)))
			for b.Loop() {
				if _, _, _, err := camera.CopyFrame(bc.frame); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/frame")
		})
	}
}

// noisyJPEG encodes a w x h picture with sensor-like noise, so that the
// frame has a camera's size (a few hundred KB at 1080p), not a flat one's.
func noisyJPEG(tb testing.TB, w, h int) []byte {
	tb.Helper()
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio422)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range img.Y {
		img.Y[i] = uint8(96 + (i%w)*64/w + r.IntN(24))
	}
	for i := range img.Cb {
		img.Cb[i], img.Cr[i] = uint8(120+r.IntN(8)), uint8(130+r.IntN(8))
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}
