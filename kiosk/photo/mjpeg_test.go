package photo_test

// A camera-like JPEG encoder for the benchmarks. UVC webcams send MJPEG
// frames with 4:2:2 chroma (two luma blocks per chroma block, full vertical
// chroma resolution); Go's image/jpeg only writes 4:2:0, which decodes
// about a third faster and so flatters the decode time. This baseline
// encoder writes 4:2:2 with the same quantisation and Huffman tables as
// jpeg.Encode at the same quality: it takes them from jpeg.Encode's output.

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"testing"
)

// encodeMJPEG encodes img as a baseline 4:2:2 JPEG at quality q.
func encodeMJPEG(tb testing.TB, img *image.NRGBA, q int) []byte {
	tb.Helper()
	t, err := stdTables(q)
	if err != nil {
		tb.Fatalf("jpeg tables: %v", err)
	}
	w, h := img.Rect.Dx(), img.Rect.Dy()
	var out bytes.Buffer
	out.Write([]byte{0xFF, 0xD8})
	out.Write(t.dqt)
	sof := []byte{0xFF, 0xC0, 0, 17, 8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), 3,
		1, 0x21, 0, // Y: 2x1 sampling, luma tables
		2, 0x11, 1, // Cb
		3, 0x11, 1, // Cr
	}
	out.Write(sof)
	out.Write(t.dht)
	out.Write([]byte{0xFF, 0xDA, 0, 12, 3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0})

	// The frame in YCbCr, edges replicated to whole MCUs (16x8).
	at := func(x, y int) (yy, cb, cr float64) {
		x, y = min(max(x, 0), w-1), min(max(y, 0), h-1)
		i := img.PixOffset(x, y)
		Y, Cb, Cr := color.RGBToYCbCr(img.Pix[i], img.Pix[i+1], img.Pix[i+2])
		return float64(Y), float64(Cb), float64(Cr)
	}
	bw := &bitWriter{buf: &out}
	var dc [3]int
	var blk [64]float64
	for my := 0; my < h; my += 8 {
		for mx := 0; mx < w; mx += 16 {
			for half := 0; half < 2; half++ {
				for y := 0; y < 8; y++ {
					for x := 0; x < 8; x++ {
						blk[y*8+x], _, _ = at(mx+8*half+x, my+y)
					}
				}
				dc[0] = t.encodeBlock(bw, &blk, 0, dc[0])
			}
			for c := 1; c <= 2; c++ {
				for y := 0; y < 8; y++ {
					for x := 0; x < 8; x++ {
						_, b0, r0 := at(mx+2*x, my+y)
						_, b1, r1 := at(mx+2*x+1, my+y)
						if c == 1 {
							blk[y*8+x] = (b0 + b1) / 2
						} else {
							blk[y*8+x] = (r0 + r1) / 2
						}
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

// jpegTables are the quantisation and Huffman tables, as segments to copy
// and as arrays to encode with; index 0 is luma, 1 chroma.
type jpegTables struct {
	dqt, dht []byte
	quant    [2][64]float64 // zigzag order
	dcCode   [2][256]huffCode
	acCode   [2][256]huffCode
}

type huffCode struct {
	bits uint32
	n    int
}

// stdTables reads the tables that jpeg.Encode writes at quality q.
func stdTables(q int) (*jpegTables, error) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 16, 16)), &jpeg.Options{Quality: q}); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	t := &jpegTables{}
	for i := 2; i+4 <= len(b); {
		marker := b[i+1]
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		seg := b[i : i+2+n]
		body := seg[4:]
		switch marker {
		case 0xDB:
			t.dqt = append(t.dqt, seg...)
			for len(body) >= 65 {
				id := body[0] & 0x0F
				for k := 0; k < 64; k++ {
					t.quant[id][k] = float64(body[1+k])
				}
				body = body[65:]
			}
		case 0xC4:
			t.dht = append(t.dht, seg...)
			for len(body) >= 17 {
				class, id := body[0]>>4, body[0]&0x0F
				counts := body[1:17]
				vals := body[17:]
				dst := &t.dcCode[id]
				if class == 1 {
					dst = &t.acCode[id]
				}
				code, k := uint32(0), 0
				for l := 1; l <= 16; l++ {
					for j := 0; j < int(counts[l-1]); j++ {
						dst[vals[k]] = huffCode{bits: code, n: l}
						code++
						k++
					}
					code <<= 1
				}
				body = vals[k:]
			}
		case 0xDA:
			return t, nil
		}
		i += 2 + n
	}
	return t, nil
}

// zigzag[k] is the natural (row-major) index of the k-th coefficient in
// zigzag order.
var zigzag = func() [64]int {
	var z [64]int
	k := 0
	for s := 0; s < 15; s++ {
		lo, hi := max(0, s-7), min(s, 7)
		for i := 0; i <= hi-lo; i++ {
			row := hi - i // even diagonals run up and to the right
			if s%2 == 1 {
				row = lo + i
			}
			z[k] = row*8 + s - row
			k++
		}
	}
	return z
}()

var dctCos = func() (c [8][8]float64) {
	for x := 0; x < 8; x++ {
		for u := 0; u < 8; u++ {
			c[x][u] = math.Cos(float64(2*x+1) * float64(u) * math.Pi / 16)
		}
	}
	return c
}()

// encodeBlock transforms, quantises and entropy-codes one block of
// samples (0..255), and returns its DC value for the next prediction.
func (t *jpegTables) encodeBlock(bw *bitWriter, blk *[64]float64, tab, prevDC int) int {
	var tmp, coef [64]float64
	for y := 0; y < 8; y++ { // rows
		for u := 0; u < 8; u++ {
			var s float64
			for x := 0; x < 8; x++ {
				s += (blk[y*8+x] - 128) * dctCos[x][u]
			}
			tmp[y*8+u] = s
		}
	}
	for u := 0; u < 8; u++ { // columns
		for v := 0; v < 8; v++ {
			var s float64
			for y := 0; y < 8; y++ {
				s += tmp[y*8+u] * dctCos[y][v]
			}
			cu, cv := 1.0, 1.0
			if u == 0 {
				cu = math.Sqrt2 / 2
			}
			if v == 0 {
				cv = math.Sqrt2 / 2
			}
			coef[v*8+u] = s * cu * cv / 4
		}
	}
	var q [64]int
	for k := 0; k < 64; k++ {
		q[k] = int(math.Round(coef[zigzag[k]] / t.quant[tab][k]))
	}
	diff := q[0] - prevDC
	n, v := magnitude(diff)
	bw.write(t.dcCode[tab][n])
	bw.write(huffCode{v, n})
	run := 0
	for k := 1; k < 64; k++ {
		if q[k] == 0 {
			run++
			continue
		}
		for run > 15 {
			bw.write(t.acCode[tab][0xF0])
			run -= 16
		}
		n, v := magnitude(q[k])
		bw.write(t.acCode[tab][run<<4|n])
		bw.write(huffCode{v, n})
		run = 0
	}
	if run > 0 {
		bw.write(t.acCode[tab][0x00]) // end of block
	}
	return q[0]
}

// magnitude returns the JPEG size category of v and its n extra bits.
func magnitude(v int) (n int, bits uint32) {
	a := v
	if a < 0 {
		a = -a
	}
	for a>>n != 0 {
		n++
	}
	if v < 0 {
		v += 1<<n - 1
	}
	return n, uint32(v) & (1<<n - 1)
}

// bitWriter writes an entropy-coded segment, stuffing a zero after 0xFF.
type bitWriter struct {
	buf  *bytes.Buffer
	acc  uint32
	nacc int
}

func (w *bitWriter) write(c huffCode) {
	for i := c.n - 1; i >= 0; i-- {
		w.acc = w.acc<<1 | (c.bits>>i)&1
		w.nacc++
		if w.nacc == 8 {
			w.emit(byte(w.acc))
		}
	}
}

func (w *bitWriter) emit(b byte) {
	w.buf.WriteByte(b)
	if b == 0xFF {
		w.buf.WriteByte(0)
	}
	w.acc, w.nacc = 0, 0
}

// flush pads the last byte with ones.
func (w *bitWriter) flush() {
	for w.nacc != 0 {
		w.write(huffCode{1, 1})
	}
}

// TestBenchFrame checks the benchmark frame is what a camera sends: a 4:2:2
// JPEG of a real frame's size that decodes close to the rendered scene.
func TestBenchFrame(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: renders and encodes a 720p frame")
	}
	b := benchFrame(t, 1280, 720)
	if kb := len(b) / 1024; kb < 60 || kb > 120 {
		t.Errorf("720p benchmark frame is %d KB; real booth frames are 60-120 KB", kb)
	}
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode benchmark frame: %v", err)
	}
	m, ok := img.(*image.YCbCr)
	if !ok || m.SubsampleRatio != image.YCbCrSubsampleRatio422 {
		t.Fatalf("benchmark frame decodes to %T %v; want 4:2:2 YCbCr", img, m.SubsampleRatio)
	}
	// Against the scene without noise: the encoder must not shift or
	// distort it (mean error well under the noise of sigma 3).
	p, astro := fixtures(t)
	s := goodScene()
	s.Noise = 0
	ref := s.render(p, astro)
	var sum float64
	n := 0
	for y := 0; y < 720; y += 2 {
		for x := 0; x < 1280; x += 2 {
			r, g, bl, _ := m.At(x, y).RGBA()
			i := ref.PixOffset(x, y)
			sum += math.Abs(float64(r>>8)-float64(ref.Pix[i])) + math.Abs(float64(g>>8)-float64(ref.Pix[i+1])) +
				math.Abs(float64(bl>>8)-float64(ref.Pix[i+2]))
			n += 3
		}
	}
	mae := sum / float64(n)
	t.Logf("mae %.2f, %d KB", mae, len(b)/1024)
	if mae > 3 {
		t.Errorf("benchmark frame differs from its scene by %.2f levels on average; want <= 3", mae)
	}
}
