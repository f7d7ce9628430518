package photo_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"hash/crc32"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"kioskd/kiosk/photo"
)

var updateFuzz = flag.Bool("update-fuzz", false, "rewrite the fuzz seed corpus in testdata/fuzz")

// fuzzSeeds are the seed corpus of FuzzAnalyzeBytes, each with what
// Decode must make of it.
func fuzzSeeds(t testing.TB) []struct {
	name  string
	b     []byte
	check func(image.Image, error) error
} {
	small := image.NewNRGBA(image.Rect(0, 0, 24, 16))
	for i := range small.Pix {
		small.Pix[i] = uint8(i * 7)
	}
	jpg := encodeJPEG(t, small, 80)
	png16 := image.NewNRGBA64(image.Rect(0, 0, 12, 9))
	for i := range png16.Pix {
		png16.Pix[i] = uint8(i * 13)
	}
	gray16 := image.NewGray16(image.Rect(0, 0, 7, 5))
	for i := range gray16.Pix {
		gray16.Pix[i] = uint8(i * 31)
	}
	pal := image.NewPaletted(image.Rect(0, 0, 9, 9), color.Palette{color.Black, color.White, color.RGBA{100, 197, 255, 255}})
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i % 3)
	}
	okAs := func(want string) func(image.Image, error) error {
		return func(img image.Image, err error) error {
			if err != nil {
				return err
			}
			if got := typeName(img); got != want {
				return errors.New("decoded as " + got + "; want " + want)
			}
			return nil
		}
	}
	isErr := func(target error) func(image.Image, error) error {
		return func(_ image.Image, err error) error {
			if err == nil {
				return errors.New("no error")
			}
			if target != nil && !errors.Is(err, target) {
				return errors.New("error " + err.Error() + " is not " + target.Error())
			}
			return nil
		}
	}
	return []struct {
		name  string
		b     []byte
		check func(image.Image, error) error
	}{
		{"jpeg", jpg, okAs("*image.YCbCr")},
		{"png", encodePNG(t, small), okAs("*image.NRGBA")},
		{"png16", encodePNG(t, png16), okAs("*image.NRGBA64")},
		{"gray16", encodePNG(t, gray16), okAs("*image.Gray16")},
		{"paletted", encodePNG(t, pal), okAs("*image.Paletted")},
		{"cmyk_jpeg", cmykJPEG(), okAs("*image.CMYK")},
		{"truncated_jpeg", jpg[:len(jpg)/2], isErr(nil)},
		{"huge_jpeg", hugeJPEG(jpg), isErr(photo.ErrTooLarge)},
		{"huge_png", hugePNG(encodePNG(t, small)), isErr(photo.ErrTooLarge)},
		{"not_a_picture", []byte("GIF89a\x01\x00\x01\x00"), isErr(photo.ErrFormat)},
	}
}

func typeName(img image.Image) string {
	switch img.(type) {
	case *image.YCbCr:
		return "*image.YCbCr"
	case *image.NRGBA:
		return "*image.NRGBA"
	case *image.NRGBA64:
		return "*image.NRGBA64"
	case *image.Gray16:
		return "*image.Gray16"
	case *image.Paletted:
		return "*image.Paletted"
	case *image.CMYK:
		return "*image.CMYK"
	}
	return "other"
}

// hugeJPEG patches the SOF0 frame header to claim 60000x60000 pixels.
func hugeJPEG(b []byte) []byte {
	b = append([]byte(nil), b...)
	for i := 2; i+9 < len(b); i++ {
		if b[i] == 0xFF && (b[i+1] == 0xC0 || b[i+1] == 0xC2) {
			binary.BigEndian.PutUint16(b[i+5:], 60000)
			binary.BigEndian.PutUint16(b[i+7:], 60000)
			return b
		}
	}
	return b
}

// hugePNG patches IHDR to claim 100000x100000 pixels, with a valid CRC.
func hugePNG(b []byte) []byte {
	b = append([]byte(nil), b...)
	// signature (8), length (4), "IHDR" (4), width, height, ...; CRC after 13 bytes of data
	binary.BigEndian.PutUint32(b[16:], 100000)
	binary.BigEndian.PutUint32(b[20:], 100000)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

// cmykJPEG builds an 8x8 four-component (Adobe, untransformed: CMYK)
// baseline JPEG by hand, as Go's encoder cannot write one: every block is
// flat (DC difference 0, end of block at once).
func cmykJPEG() []byte {
	var b bytes.Buffer
	seg := func(marker byte, data ...byte) {
		b.Write([]byte{0xFF, marker})
		binary.Write(&b, binary.BigEndian, uint16(len(data)+2))
		b.Write(data)
	}
	b.Write([]byte{0xFF, 0xD8})
	seg(0xEE, 'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, 0) // APP14, transform 0
	q := []byte{0x00}
	for i := 0; i < 64; i++ {
		q = append(q, 1)
	}
	seg(0xDB, q...)
	seg(0xC0, 8, 0, 8, 0, 8, 4, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0, 4, 0x11, 0)
	// One-symbol Huffman tables: a 1-bit code "0" for symbol 0.
	dht := func(class byte) []byte {
		t := []byte{class}
		counts := make([]byte, 16)
		counts[0] = 1
		return append(append(t, counts...), 0)
	}
	seg(0xC4, dht(0x00)...)
	seg(0xC4, dht(0x10)...)
	seg(0xDA, 4, 1, 0x00, 2, 0x00, 3, 0x00, 4, 0x00, 0, 63, 0)
	b.Write([]byte{0x00}) // 4 blocks x (DC "0", EOB "0") = 8 zero bits
	b.Write([]byte{0xFF, 0xD9})
	return b.Bytes()
}

// TestFuzzSeeds checks what Decode makes of each seed, and that the
// committed corpus matches the generated seeds (-update-fuzz rewrites it).
func TestFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzAnalyzeBytes")
	if *updateFuzz {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range fuzzSeeds(t) {
		img, err := photo.Decode(s.b, 0)
		if e := s.check(img, err); e != nil {
			t.Errorf("Decode(%s): %v", s.name, e)
		}
		file := filepath.Join(dir, s.name)
		want := "go test fuzz v1\n[]byte(" + strconv.Quote(string(s.b)) + ")\n"
		if *updateFuzz {
			if err := os.WriteFile(file, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := os.Stat(file); err != nil {
			t.Errorf("seed %s missing (run with -update-fuzz): %v", s.name, err)
		}
	}
}

// FuzzAnalyzeBytes: any bytes give an error or an analysis, never a panic;
// the pixel bound keeps decoding small.
func FuzzAnalyzeBytes(f *testing.F) {
	a, err := photo.NewAnalyzer()
	if err != nil {
		f.Fatal(err)
	}
	a.MaxPixels = 1 << 20
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, rot := range []int{0, 90} {
			an, err := a.AnalyzeBytes(b, photo.Options{Rotation: rot})
			if err != nil {
				if an.Checks != nil {
					t.Fatalf("error %v with checks", err)
				}
				continue
			}
			if len(an.Checks) != len(photo.CheckIDs) {
				t.Fatalf("%d checks; want %d", len(an.Checks), len(photo.CheckIDs))
			}
			if an.Ready && an.Faces != 1 {
				t.Fatalf("ready with %d faces", an.Faces)
			}
		}
	})
}
