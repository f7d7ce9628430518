package e2e_test

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"kioskd/kiosk/queue"
	"kioskd/sync/uplink"
)

// TestOfflineThenDrain queues 3,000 records while central is unreachable
// (every connection is cut), then brings central back: the queue drains
// oldest first, central holds each record once, and the heap stays flat
// while it drains.
func TestOfflineThenDrain(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 300
	}
	c := startCentral(t)
	var down atomic.Bool
	down.Store(true)
	var requests atomic.Int64
	link := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if down.Load() {
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close() // the campus network is down
					return
				}
			}
			panic(http.ErrAbortHandler)
		}
		c.srv.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(link.Close)

	q := openQueue(t, t.TempDir())
	w := newWorker(t, q, link.URL, c.tokenFile)
	stop := runWorker(t, w)
	var first queue.Record
	for i := range n {
		r := commitRecord(t, q, i, 20<<10, 60<<10)
		if i == 0 {
			first = r
		}
		w.Notify()
	}
	// The worker keeps retrying after each backoff (at most 0.5 s here);
	// between two attempts it says offline and every record is queued.
	var h uplink.Health
	var counts map[queue.State]int
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		h = w.Health()
		counts, _ = q.Counts()
		if h.State == "offline" && counts[queue.StateQueued] == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("while central is unreachable: health %+v, records %v; want offline with all %d queued", h, counts, n)
		}
	}
	t.Logf("offline: %d records queued, %d connection attempts cut", n, requests.Load())

	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	base := heap()
	down.Store(false)
	w.Notify()
	start := time.Now()
	var samples []uint64
	deadline := start.Add(5 * time.Minute)
	for {
		counts, err := q.Counts()
		if err != nil {
			t.Fatal(err)
		}
		done := counts[queue.StateAccepted]
		if len(samples) < done*10/n {
			samples = append(samples, heap())
		}
		if done == n {
			break
		}
		if counts[queue.StateParked] > 0 || time.Now().After(deadline) {
			t.Fatalf("draining: %v", counts)
		}
		// Oldest first: the first record saved is among the first sent.
		if done > n/10 {
			if r, _ := q.Get(first.ID); r.State != queue.StateAccepted {
				t.Fatalf("%d records accepted but not the oldest (%s)", done, r.State)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	elapsed := time.Since(start)
	stop()
	verifyExactlyOnce(t, q, c)
	const mib = 1 << 20
	var peak uint64
	for _, s := range samples {
		peak = max(peak, s)
	}
	t.Logf("drained %d records in %v (%.0f records/s); heap before %d MiB, at each tenth %v MiB",
		n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), base/mib, mibs(samples))
	if peak > base+32*mib {
		t.Errorf("heap grew from %d MiB to %d MiB while draining: not flat", base/mib, peak/mib)
	}
}

func mibs(v []uint64) []uint64 {
	out := make([]uint64, len(v))
	for i, x := range v {
		out[i] = x >> 20
	}
	return out
}
