package central_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"kioskd/sync/central"
	"kioskd/sync/wire"
)

// BenchmarkCommitRecord measures one record commit (blobs already held):
// the figure that bounds how fast central takes a station's backlog.
func BenchmarkCommitRecord(b *testing.B) {
	dir := b.TempDir()
	srv, err := central.Open(dir, central.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	photo, orig := randomBytes(b, 35<<10), randomBytes(b, 300<<10)
	psum, osum := wire.SHA256(photo), wire.SHA256(orig)
	for _, blob := range [][]byte{photo, orig} {
		if _, err := srv.PutBlob(wire.SHA256(blob), bytes.NewReader(blob)); err != nil {
			b.Fatal(err)
		}
	}
	ms := make([]wire.Manifest, b.N)
	for i := range ms {
		ms[i] = manifestFor(b, "lib-1", i%1000, photo, orig, psum, osum)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if _, _, err := srv.CommitRecord("lib-1", ms[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/record")
}

// BenchmarkRosterPage measures serving one full roster page (1000
// changes) over HTTP from a 10,000-student roster.
func BenchmarkRosterPage(b *testing.B) {
	dir := b.TempDir()
	srv, err := central.Open(dir, central.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	tok, err := central.AddStation(dir, "lib-1")
	if err != nil {
		b.Fatal(err)
	}
	students := make([]int, 10_000)
	for i := range students {
		students[i] = i
	}
	if _, err := srv.ImportRoster(bytes.NewReader(rosterCSV(b, students, nil, nil))); err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	r, _ := http.NewRequest("GET", ts.URL+"/v1/roster?since=", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			b.Fatal(err)
		}
		p, err := wire.DecodeRosterPage(res.Body)
		res.Body.Close()
		if err != nil || len(p.Changes) != wire.MaxRosterPage {
			b.Fatalf("page: %d changes, %v", len(p.Changes), err)
		}
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/page")
}

// BenchmarkImportRoster measures importing a 10,000-student file into an
// empty roster (decode, one transaction per batch).
func BenchmarkImportRoster(b *testing.B) {
	students := make([]int, 10_000)
	for i := range students {
		students[i] = i
	}
	csv := rosterCSV(b, students, nil, nil)
	b.ReportAllocs()
	var total time.Duration
	for range b.N {
		b.StopTimer()
		srv, err := central.Open(b.TempDir(), central.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		res, err := srv.ImportRoster(bytes.NewReader(csv))
		total += time.Since(start)
		b.StopTimer()
		srv.Close()
		if err != nil || res.Added != len(students) {
			b.Fatalf("import: %+v, %v", res, err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/10k-rows")
}
