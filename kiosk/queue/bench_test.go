package queue_test

import (
	"slices"
	"testing"
	"time"

	"kioskd/kiosk/queue"
)

// BenchmarkCommit measures a whole durable Commit: a 35 KB photo and a
// 300 KB original encrypted, written, fsynced and renamed, the folder
// fsynced, and the record's bbolt transaction fsynced. The target is a
// median of 15 ms or less per record on a booth SSD.
func BenchmarkCommit(b *testing.B) {
	q := openQueue(b, b.TempDir(), queue.Options{})
	photo := jpegLike(b, 35<<10, "")
	original := jpegLike(b, 300<<10, "")
	nr := newRecord(testIDNumber)
	b.SetBytes(int64(len(photo) + len(original)))
	b.ReportAllocs()
	var each []time.Duration
	for i := 0; b.Loop(); i++ {
		// Vary the blobs so every commit writes new files, as real captures do.
		photo[100], original[100] = byte(i), byte(i>>8)
		photo[101], original[101] = byte(i>>8), byte(i)
		start := time.Now()
		if _, err := q.Commit(nr, photo, original); err != nil {
			b.Fatal(err)
		}
		each = append(each, time.Since(start))
	}
	slices.Sort(each)
	b.ReportMetric(float64(each[len(each)/2].Microseconds())/1000, "ms/record")
	b.ReportMetric(float64(each[len(each)*9/10].Microseconds())/1000, "p90-ms/record")
}
