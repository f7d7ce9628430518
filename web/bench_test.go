package web_test

import (
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"kioskd/kiosk"
	"kioskd/web"
)

// BenchmarkPreviewLatency measures the preview path inside the server: from
// PutFrame to the moment each client's WriteMessage has returned (the frame
// is in the kernel's socket buffer), for 1920x1080 JPEGs of about 200 KB at
// 30 fps, with 3 WebSocket clients on loopback that read everything. One op
// is one camera frame; allocs/op counts the whole process (station, server,
// and the 3 test clients).
func BenchmarkPreviewLatency(b *testing.B) {
	jpg := testJPEG(b, 1920, 1080, 0, 75, 10)
	src := newTestSource(kiosk.SourceV4L2)

	const clients = 3
	var (
		mu   sync.Mutex
		lats = make([]time.Duration, 0, clients*(b.N+1))
		seen = make(chan struct{}, clients*(b.N+1))
	)
	h := startHarness(b, src, harnessOptions{
		statsInterval: time.Second, // the daemon's rate, so allocs/op is representative
		configure: func(s *web.Server) {
			web.SetFrameWritten(s, func(f kiosk.Frame) {
				d := time.Since(f.Time)
				mu.Lock()
				lats = append(lats, d)
				mu.Unlock()
				seen <- struct{}{}
			})
		},
	})
	for range clients {
		c := h.dial(b)
		go func() {
			for {
				_, r, err := c.NextReader()
				if err != nil {
					return // closed at cleanup
				}
				io.Copy(io.Discard, r)
			}
		}()
	}
	// Warm up: one frame through every client.
	wait := func(n int) int {
		got := 0
		timeout := time.After(5 * time.Second)
		for got < n {
			select {
			case <-seen:
				got++
			case <-timeout:
				return got
			}
		}
		return got
	}
	h.st.PutFrame(kiosk.Frame{Time: time.Now(), JPEG: jpg, Width: 1920, Height: 1080})
	if got := wait(clients); got != clients {
		b.Fatalf("warm-up frame reached %d of %d clients", got, clients)
	}
	mu.Lock()
	lats = lats[:0]
	mu.Unlock()

	tick := time.NewTicker(time.Second / 30)
	defer tick.Stop()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		<-tick.C
		h.st.PutFrame(kiosk.Frame{Time: time.Now(), JPEG: jpg, Width: 1920, Height: 1080})
	}
	written := wait(clients * b.N)
	b.StopTimer()

	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lats)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(lats[len(lats)/2]), "ms/frame-median")
	b.ReportMetric(ms(lats[len(lats)*99/100]), "ms/frame-p99")
	b.ReportMetric(float64(clients*b.N-written)/float64(clients*b.N), "skipped-fraction")
	b.ReportMetric(float64(len(jpg))/1024, "KB/frame")
}
