package photo_test

import (
	"runtime"
	"testing"
	"time"

	"kioskd/kiosk/photo"
)

// benchFrame is the good scene at a camera size, as a JPEG (Go's encoder:
// 4:2:0, quality 85).
func benchFrame(tb testing.TB, w, h int) []byte {
	p, astro := fixtures(tb)
	s := goodScene()
	k := float64(h) / 720
	s.W, s.H = w, h
	s.IPD, s.EyeX, s.EyeY = s.IPD*k, s.EyeX*k, s.EyeY*k
	s.Noise = 3
	return encodeJPEG(tb, s.render(p, astro), 85)
}

func benchAnalyze(b *testing.B, w, h int) {
	frame := benchFrame(b, w, h)
	a := newAnalyzer(b)
	an, err := a.AnalyzeBytes(frame, photo.Options{})
	if err != nil || !an.Ready {
		b.Fatalf("benchmark frame not ready (%v): %s", err, summary(an))
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		if _, err := a.AnalyzeBytes(frame, photo.Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/frame")
}

// BenchmarkAnalyze720p: decode included; target <= 15 ms on one core
// (go test -bench Analyze -cpu 1).
func BenchmarkAnalyze720p(b *testing.B) { benchAnalyze(b, 1280, 720) }

// BenchmarkAnalyze1080p: target <= 25 ms on one core.
func BenchmarkAnalyze1080p(b *testing.B) { benchAnalyze(b, 1920, 1080) }

// BenchmarkHeapFlat runs b.N frames and reports how much the live heap grew
// (after a GC) from the first 100 frames to the end: "heap flat" means this
// stays near zero however large b.N is (-benchtime 10000x).
func BenchmarkHeapFlat(b *testing.B) {
	frame := benchFrame(b, 1280, 720)
	a := newAnalyzer(b)
	var base runtime.MemStats
	i := 0
	for b.Loop() {
		if _, err := a.AnalyzeBytes(frame, photo.Options{}); err != nil {
			b.Fatal(err)
		}
		i++
		if i == 100 {
			runtime.GC()
			runtime.ReadMemStats(&base)
		}
	}
	if i < 100 {
		return
	}
	runtime.GC()
	var end runtime.MemStats
	runtime.ReadMemStats(&end)
	b.ReportMetric(float64(int64(end.HeapAlloc)-int64(base.HeapAlloc))/1024, "heap-growth-KiB")
}

// TestHeapFlat is the short form of BenchmarkHeapFlat for every test run:
// 300 frames must not grow the live heap by more than 1 MiB.
func TestHeapFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: 300 frames")
	}
	frame := benchFrame(t, 1280, 720)
	a := newAnalyzer(t)
	var base, end runtime.MemStats
	for i := 0; i < 300; i++ {
		if _, err := a.AnalyzeBytes(frame, photo.Options{}); err != nil {
			t.Fatal(err)
		}
		if i == 49 {
			runtime.GC()
			runtime.ReadMemStats(&base)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&end)
	if g := int64(end.HeapAlloc) - int64(base.HeapAlloc); g > 1<<20 {
		t.Errorf("live heap grew by %d KiB over 250 frames", g/1024)
	}
}

// BenchmarkDecode720p is the decode share of BenchmarkAnalyze720p.
func BenchmarkDecode720p(b *testing.B) {
	frame := benchFrame(b, 1280, 720)
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		if _, err := photo.Decode(frame, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/frame")
}
