package replay_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"

	"kioskd/camera/replay"
)

// split returns the frames of data and how many frames were skipped.
func split(t testing.TB, data []byte, max int) (frames [][]byte, bad int) {
	t.Helper()
	sp := replay.NewSplitter(bytes.NewReader(data), max)
	for calls := 0; ; calls++ {
		if calls > len(data)+2 {
			t.Fatalf("Next called %d times on %d bytes without reaching the end", calls, len(data))
		}
		b, err := sp.Next()
		switch {
		case errors.Is(err, io.EOF):
			return frames, bad
		case errors.Is(err, replay.ErrBadFrame):
			bad++
		case err != nil:
			t.Fatalf("Next: %v", err)
		default:
			frames = append(frames, b)
		}
	}
}

func TestSplitter(t *testing.T) {
	a, b := makeJPEG(t, 32, 24, 1), makeJPEG(t, 16, 16, 2)
	big := makeJPEG(t, 256, 256, 3)
	thumbed := withThumbnail(a, b)
	// A hand-made stream: fill bytes before markers, a stuffed 0xFF and a
	// restart marker in the scan, and two scans (as progressive JPEGs have).
	odd := concat(
		[]byte{0xff, 0xd8, 0xff, 0xff, 0xe0, 0x00, 0x04, 'h', 'i'},
		[]byte{0xff, 0xda, 0x00, 0x03, 0x01, 0x12, 0xff, 0x00, 0x34, 0xff, 0xd0, 0x56},
		[]byte{0xff, 0xda, 0x00, 0x02, 0x78, 0xff, 0xff, 0xd9},
	)
	tests := []struct {
		name string
		data []byte
		max  int
		want [][]byte
		bad  int
	}{
		{"one", a, 0, [][]byte{a}, 0},
		{"back to back", concat(a, b, a), 0, [][]byte{a, b, a}, 0},
		{"bytes between", concat([]byte("junk\xff\xffmore"), a, []byte("\r\n\xff\x00--"), b, []byte("tail\xff")), 0, [][]byte{a, b}, 0},
		{"multipart", multipart(a, b), 0, [][]byte{a, b}, 0},
		{"thumbnail in Exif", concat(thumbed, b), 0, [][]byte{thumbed, b}, 0},
		{"without Huffman tables", withoutDHT(t, a), 0, [][]byte{withoutDHT(t, a)}, 0},
		{"fill bytes, restart marker, two scans", odd, 0, [][]byte{odd}, 0},
		{"cut short by the next frame", concat(big[:len(big)*3/4], b), 0, [][]byte{b}, 1},
		{"cut short by the end", concat(a, b[:len(b)-40]), 0, [][]byte{a}, 1},
		{"cut in a segment header", concat(a, b[:5]), 0, [][]byte{a}, 1},
		{"too large", concat(big, b, a), len(a) + 10, [][]byte{b, a}, 1},
		{"exactly the limit", a, len(a), [][]byte{a}, 0},
		{"garbage where a marker should be", concat([]byte{0xff, 0xd8, 0x12, 0x34}, a), 0, [][]byte{a}, 1},
		{"segment length below 2", concat([]byte{0xff, 0xd8, 0xff, 0xe0, 0x00, 0x01}, a), 0, [][]byte{a}, 1},
		{"empty", nil, 0, nil, 0},
		{"no JPEG", []byte("just some text\n"), 0, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, bad := split(t, tt.data, tt.max)
			if bad != tt.bad {
				t.Errorf("skipped %d frames; want %d", bad, tt.bad)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d frames; want %d", len(got), len(tt.want))
			}
			for i := range got {
				if !bytes.Equal(got[i], tt.want[i]) {
					t.Errorf("frame %d: %d bytes, not the %d bytes expected", i, len(got[i]), len(tt.want[i]))
				}
			}
		})
	}
}

// A stream that starts a frame and never ends it is skipped in bounded
// memory: the splitter gives up at its limit and then only scans.
func TestSplitterEndlessFrame(t *testing.T) {
	const size, limit = 8 << 20, 64 << 10
	data := make([]byte, size)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.IntN(255)) // never 0xFF: no marker ever comes
	}
	copy(data, []byte{0xff, 0xd8, 0xff, 0xda, 0x00, 0x02})
	tail := makeJPEG(t, 16, 16, 9)
	data = append(data, tail...)

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got, bad := split(t, data, limit)
	runtime.ReadMemStats(&after)
	if bad != 1 || len(got) != 1 || !bytes.Equal(got[0], tail) {
		t.Errorf("got %d frames, %d skipped; want the tail frame after one skipped", len(got), bad)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("splitting %d bytes with a %d byte limit allocated %d bytes", size, limit, alloc)
	}
}

// Every returned frame is a piece of the input, in order, within the
// limit, from SOI to EOI; the splitter never loops or panics.
func FuzzSplitMJPEG(f *testing.F) {
	a, b := makeJPEG(f, 16, 8, 1), makeJPEG(f, 8, 8, 2)
	f.Add(a)
	f.Add(concat(a, b))
	f.Add(multipart(a, b))
	f.Add(withThumbnail(a, b))
	f.Add(withoutDHT(f, a))
	f.Add(concat(a[:len(a)/2], b))
	f.Add([]byte{0xff, 0xd8, 0xff, 0xda, 0x00, 0x02, 0x01, 0xff, 0x00, 0xff, 0xd0, 0xff, 0xff, 0xd9})
	const limit = 4096
	f.Fuzz(func(t *testing.T, data []byte) {
		sp := replay.NewSplitter(bytes.NewReader(data), limit)
		pos := 0
		for calls := 0; ; calls++ {
			if calls > len(data)+2 {
				t.Fatalf("Next called %d times on %d bytes without reaching the end", calls, len(data))
			}
			fr, err := sp.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if errors.Is(err, replay.ErrBadFrame) {
				continue
			}
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			if len(fr) < 4 || len(fr) > limit || !bytes.HasPrefix(fr, []byte{0xff, 0xd8}) || !bytes.HasSuffix(fr, []byte{0xff, 0xd9}) {
				t.Fatalf("frame of %d bytes is not SOI..EOI within %d bytes", len(fr), limit)
			}
			i := bytes.Index(data[pos:], fr)
			if i < 0 {
				t.Fatalf("frame of %d bytes is not in the input after byte %d", len(fr), pos)
			}
			pos += i + len(fr)
		}
	})
}

// BenchmarkSplitter measures splitting an MJPEG stream of 720p-sized
// frames (MB/s) and the cost per frame.
func BenchmarkSplitter(b *testing.B) {
	frame := makeJPEG(b, 1280, 720, 7)
	const n = 20
	data := bytes.Repeat(frame, n)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		sp := replay.NewSplitter(bytes.NewReader(data), 0)
		for range n {
			if _, err := sp.Next(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N*n), "ms/frame")
}
