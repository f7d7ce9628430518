package uplink_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"kioskd/kiosk/queue"
	"kioskd/kiosk/roster"
	"kioskd/sync/uplink"
)

// testID is the i-th of a family of distinct, valid-looking synthetic ID
// numbers (not real people).
func testID(i int) string {
	first := fmt.Sprintf("33%04d20040101%03d", i/1000, i%1000)
	return first + string(roster.CheckDigit(first))
}

func testName(i int) string { return fmt.Sprintf("测试学生%d", i) }

func plenty(string) (int64, error) { return 100 << 30, nil }

func openQueue(t testing.TB) *queue.Queue {
	t.Helper()
	q, err := queue.Open(t.TempDir(), queue.Options{FreeSpace: plenty})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

func openRoster(t testing.TB) *roster.Roster {
	t.Helper()
	ro, err := roster.Open(t.TempDir(), roster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ro.Close() })
	return ro
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	copy(b, []byte{0xFF, 0xD8, 0xFF, 0xE0})
	return b
}

func newRecord(station string, i int) queue.NewRecord {
	return queue.NewRecord{
		StationID: station, Operator: "op07", IDNumber: testID(i), Name: testName(i),
		Spec: "chsi-480x640", Background: "replace",
		Fee:          queue.Fee{Yuan: 30, Method: "wechat", Receipt: fmt.Sprintf("W%06d", i)},
		Consent:      queue.Consent{Version: "2026-05", At: time.Date(2026, 6, 1, 9, 0, i%60, 0, time.UTC)},
		Measurements: json.RawMessage(`{"eyeY": 0.42, "faceWidth": 0.6}`),
		Report:       json.RawMessage(`{"ready":true,"checks":[{"id":"roll","status":"pass"}]}`),
	}
}

// commit saves n records of student 0..n-1 with random blobs.
func commit(t testing.TB, q *queue.Queue, station string, n, photoSize, originalSize int) []queue.Record {
	t.Helper()
	out := make([]queue.Record, n)
	for i := range out {
		r, err := q.Commit(newRecord(station, i), randomBytes(t, photoSize), randomBytes(t, originalSize))
		if err != nil {
			t.Fatal(err)
		}
		out[i] = r
	}
	return out
}

// client makes a client for f with the token in a private file.
func (f *fakeCentral) client(t testing.TB, stall time.Duration) *uplink.Client {
	t.Helper()
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte(f.token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := uplink.NewClient(uplink.Config{URL: f.srv.URL, TokenFile: path, StallTimeout: stall})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// worker makes a worker with test tunables: quick polls, tiny backoff.
func (f *fakeCentral) worker(t testing.TB, q *queue.Queue, ro *roster.Roster) *uplink.Worker {
	w := uplink.New(q, ro, f.client(t, 0), f.station)
	w.Interval = 50 * time.Millisecond
	w.HeartbeatEvery = 100 * time.Millisecond
	w.BackoffBase = 5 * time.Millisecond
	w.BackoffCap = 20 * time.Millisecond
	w.BlockedRetry = time.Hour
	return w
}

// start runs w until the test ends (or the returned stop is called) and
// checks that Run returns nil.
func start(t testing.TB, w *uplink.Worker) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }() // ends when ctx is cancelled by stop
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run = %v; want nil on cancellation", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("Run did not return within 10 s of cancellation")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func state(t testing.TB, q *queue.Queue, id string) queue.Record {
	t.Helper()
	r, err := q.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func count(t testing.TB, q *queue.Queue, s queue.State) int {
	t.Helper()
	c, err := q.Counts()
	if err != nil {
		t.Fatal(err)
	}
	return c[s]
}

// removeBlob deletes a blob file behind the queue's back.
func removeBlob(q *queue.Queue, sum string) error {
	return os.Remove(filepath.Join(q.Dir(), queue.BlobDir, sum))
}

func newTextLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
