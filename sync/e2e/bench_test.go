package e2e_test

import (
	"testing"
	"time"
)

// BenchmarkDrain is the drain figure: records with a 2 MB
// original and a 40 KB photo, queued, then sent by the uplink worker to
// the real central server on loopback (both fsync every blob and
// commit). It reports records/s and MB/s of blob bytes.
//
//	go test -run '^$' -bench Drain -benchtime 200x -count 5 ./sync/e2e
func BenchmarkDrain(b *testing.B) {
	const photo, original = 40 << 10, 2 << 20
	c := startCentral(b)
	q := openQueue(b, b.TempDir())
	for i := range b.N {
		commitRecord(b, q, i, photo, original)
	}
	w := newWorker(b, q, c.ts.URL, c.tokenFile)
	b.ResetTimer()
	start := time.Now()
	stop := runWorker(b, w)
	waitAccepted(b, q, b.N, 10*time.Minute)
	elapsed := time.Since(start)
	b.StopTimer()
	stop()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(b.N)*float64(photo+original)/1e6/elapsed.Seconds(), "MB/s")
	b.ReportMetric(0, "ns/op")
}
