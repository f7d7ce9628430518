package e2e_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"kioskd/kiosk/queue"
	"kioskd/sync/central"
	"kioskd/sync/uplink"
	"kioskd/sync/wire"
)

const station = "booth-e2e"

// plenty is a FreeSpace that never runs out.
func plenty(string) (int64, error) { return 1 << 40, nil }

// centralFixture is a real central server on loopback with one station.
type centralFixture struct {
	srv       *central.Server
	ts        *httptest.Server
	dir       string
	tokenFile string // the station's token, mode 0600
}

func startCentral(t testing.TB) *centralFixture {
	t.Helper()
	dir := t.TempDir()
	srv, err := central.Open(filepath.Join(dir, "central"), central.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := central.AddStation(filepath.Join(dir, "central"), station)
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	f := &centralFixture{srv: srv, ts: ts, dir: dir, tokenFile: tokenFile}
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
	})
	return f
}

// openQueue opens a station queue in dir.
func openQueue(t testing.TB, dir string) *queue.Queue {
	t.Helper()
	q, err := queue.Open(dir, queue.Options{FreeSpace: plenty, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

// idNumber is a synthetic ID number; the queue does not check it.
func idNumber(i int) string { return fmt.Sprintf("33010619%010d", i) }

// randomBytes returns n random bytes starting like a JPEG.
func randomBytes(tb testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	copy(b, []byte{0xFF, 0xD8, 0xFF, 0xE0})
	return b
}

// commitRecord saves one record with a photo and an original of the
// given sizes, as the station's capture flow would.
func commitRecord(tb testing.TB, q *queue.Queue, i, photoSize, originalSize int) queue.Record {
	tb.Helper()
	r, err := q.Commit(queue.NewRecord{
		StationID: station, Operator: "op01", IDNumber: idNumber(i), Name: "测试",
		Spec: "chsi-graduation", Background: "replace",
		Fee:     queue.Fee{Yuan: 20, Method: "cash"},
		Consent: queue.Consent{Version: "2026-05", At: time.Now().UTC().Round(0)},
		Report:  json.RawMessage(`{"ready":true}`),
	}, randomBytes(tb, photoSize), randomBytes(tb, originalSize))
	if err != nil {
		tb.Fatalf("commit record %d: %v", i, err)
	}
	return r
}

// newWorker is an uplink worker for q against url with test-sized waits.
func newWorker(tb testing.TB, q *queue.Queue, url, tokenFile string) *uplink.Worker {
	tb.Helper()
	c, err := uplink.NewClient(uplink.Config{URL: url, TokenFile: tokenFile, StallTimeout: 2 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	w := uplink.New(q, nil, c, station)
	w.BackoffBase, w.BackoffCap = 20*time.Millisecond, 500*time.Millisecond
	w.BlockedRetry = time.Second
	w.Interval = time.Second
	return w
}

// runWorker runs w until the test ends or stop is called; stop waits for
// Run to return.
func runWorker(tb testing.TB, w *uplink.Worker) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }() // ends when ctx is cancelled
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Run = %v", err)
		}
	}
	tb.Cleanup(stop)
	return stop
}

// waitAccepted waits until every record of q is accepted (or later), and
// fails after limit.
func waitAccepted(tb testing.TB, q *queue.Queue, want int, limit time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(limit)
	for {
		counts, err := q.Counts()
		if err != nil {
			tb.Fatal(err)
		}
		done := counts[queue.StateAccepted] + counts[queue.StateApproved] + counts[queue.StateRejected]
		if done == want {
			return
		}
		if counts[queue.StateParked] > 0 {
			parked, _ := q.Next(queue.StateParked, 3)
			for _, r := range parked {
				tb.Errorf("record %s parked: %s", r.ID, r.Reason)
			}
			tb.Fatalf("records parked: %v", counts)
		}
		if time.Now().After(deadline) {
			tb.Fatalf("after %v: %v; want %d accepted", limit, counts, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// verifyExactlyOnce checks the invariants of the sync against the queue:
// central holds exactly the queue's records, each once, with the blob
// hashes the station recorded, blobs whose bytes hash to their names, and
// the receipt the station kept.
func verifyExactlyOnce(tb testing.TB, q *queue.Queue, c *centralFixture) {
	tb.Helper()
	local, err := q.List("", 0)
	if err != nil {
		tb.Fatal(err)
	}
	byID := make(map[string]queue.Record, len(local))
	for _, r := range local {
		byID[r.ID] = r
	}
	seen := map[string]bool{}
	originals := map[string]string{}
	err = c.srv.Records(func(s central.StoredRecord) error {
		id := s.Manifest.RecordID
		if seen[id] {
			tb.Errorf("central holds record %s twice", id)
		}
		seen[id] = true
		r, ok := byID[id]
		if !ok {
			tb.Errorf("central holds record %s, which the station never saved", id)
			return nil
		}
		if s.Manifest.Photo.SHA256 != r.Photo.SHA256 || s.Manifest.Original.SHA256 != r.Original.SHA256 {
			tb.Errorf("record %s: central's blob hashes differ from the station's", id)
		}
		if other, dup := originals[s.Manifest.Original.SHA256]; dup {
			tb.Errorf("records %s and %s share an original: one capture held twice", other, id)
		}
		originals[s.Manifest.Original.SHA256] = id
		for _, sum := range []string{s.Manifest.Photo.SHA256, s.Manifest.Original.SHA256} {
			b, err := c.srv.Blob(sum)
			if err != nil || wire.SHA256(b) != sum {
				tb.Errorf("record %s: central's blob %s is missing or does not hash to its name (%v)", id, sum[:12], err)
			}
		}
		if r.Receipt != s.Receipt.String() {
			tb.Errorf("record %s: the station kept receipt %s; central's is %s", id, r.Receipt, s.Receipt.String())
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	for id := range byID {
		if !seen[id] {
			tb.Errorf("record %s is not at central", id)
		}
	}
	if len(seen) != len(byID) {
		tb.Errorf("central holds %d records; the station saved %d", len(seen), len(byID))
	}
}
