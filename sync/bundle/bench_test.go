package bundle_test

import (
	"fmt"
	"testing"

	"kioskd/sync/bundle"
)

// benchRecords are n records of a realistic size: a 36 KB photo and a
// 2 MB original frame each.
func benchRecords(n int) ([]bundle.Record, int64) {
	var recs []bundle.Record
	var total int64
	for i := 0; i < n; i++ {
		r := record(i+1, blobBytes(fmt.Sprintf("photo-%d", i), 36<<10), blobBytes(fmt.Sprintf("original-%d", i), 2<<20))
		recs = append(recs, r)
		total += int64(len(r.Photo) + len(r.Original))
	}
	return recs, total
}

// BenchmarkWrite: export speed, fsyncs included (on the test machine's
// temp folder, not a USB stick).
func BenchmarkWrite(b *testing.B) {
	recs, total := benchRecords(8)
	b.ReportAllocs()
	for b.Loop() {
		w, err := bundle.NewWriter(b.TempDir(), station, token)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range recs {
			if err := w.Add(r); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(total*int64(b.N))/b.Elapsed().Seconds()/1e6, "MB/s")
	b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N*len(recs)), "ms/record")
}

// BenchmarkEach: import-side speed, every hash and tag verified.
func BenchmarkEach(b *testing.B) {
	recs, total := benchRecords(8)
	w, err := bundle.NewWriter(b.TempDir(), station, token)
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Add(r); err != nil {
			b.Fatal(err)
		}
	}
	path, err := w.Close()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		r, err := bundle.Open(path, keyFor)
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Each(func(bundle.Record) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(total*int64(b.N))/b.Elapsed().Seconds()/1e6, "MB/s")
	b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N*len(recs)), "ms/record")
}
