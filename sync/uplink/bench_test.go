package uplink_test

import (
	"testing"
	"time"

	"kioskd/kiosk/queue"
)

// BenchmarkDrain sends records of a 40 KB photo and a 2 MB original
// through the fake central on loopback, DefaultParallel at once, and
// reports records/s and MB/s of payload. Committing the records is not
// timed. Run: go test -run '^$' -bench Drain -benchtime 3x -count 3 ./sync/uplink
func BenchmarkDrain(b *testing.B) {
	const (
		perIter  = 16
		photo    = 40 << 10
		original = 2 << 20
	)
	f := newCentral(b)
	q := openQueue(b)
	w := f.worker(b, q, nil)
	w.Parallel = 0 // the default
	w.Interval, w.HeartbeatEvery = time.Hour, time.Hour
	start(b, w)
	b.ReportAllocs()
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		f.mu.Lock()
		clear(f.blobs)
		f.mu.Unlock()
		for range perIter {
			if _, err := q.Commit(newRecord(f.station, i), randomBytes(b, photo), randomBytes(b, original)); err != nil {
				b.Fatal(err)
			}
		}
		want := uint64((i + 1) * perIter)
		b.StartTimer()
		t0 := time.Now()
		w.Notify()
		for w.Health().Uploaded < want {
			time.Sleep(200 * time.Microsecond)
		}
		elapsed += time.Since(t0)
	}
	b.StopTimer()
	if n := count(b, q, queue.StateAccepted); n != b.N*perIter {
		b.Fatalf("%d accepted; want %d", n, b.N*perIter)
	}
	recs := float64(b.N * perIter)
	b.ReportMetric(recs/elapsed.Seconds(), "records/s")
	b.ReportMetric(recs*float64(photo+original)/(1<<20)/elapsed.Seconds(), "MB/s")
}
