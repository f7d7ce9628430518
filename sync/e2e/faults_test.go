package e2e_test

import (
	"os"
	"strconv"
	"testing"
	"time"

	"kioskd/sync/internal/faultproxy"
)

// TestFaultsDrainExactlyOnce puts the fault-injecting proxy between the
// uplink and central for a few hundred records: connections reset in the
// middle of a body, answers dropped after central committed, 500, 503
// and 429 with Retry-After, requests held until the station gives up,
// slow answers. Once the faults stop the queue drains, and central holds
// each record exactly once with matching hashes and receipts. While
// faults run, no request follows a Retry-After before it has elapsed.
func TestFaultsDrainExactlyOnce(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 60
	}
	seed := time.Now().UnixNano()
	if s, err := strconv.ParseInt(os.Getenv("KIOSK_FAULT_SEED"), 10, 64); err == nil {
		seed = s
	}
	c := startCentral(t)
	proxy := faultproxy.Start(t, c.ts.URL, seed)
	proxy.SetFaults(faultproxy.Faults{
		ResetMidBody: 0.08, DropResponse: 0.08, Status500: 0.08, Status503: 0.04, Status429: 0.03,
		Timeout: 0.03, Slow: 0.06,
		RetryAfter: time.Second, SlowDelay: 300 * time.Millisecond, MaxHold: 5 * time.Second,
	})
	q := openQueue(t, t.TempDir())
	for i := range n {
		commitRecord(t, q, i, 40<<10, 200<<10)
	}
	w := newWorker(t, q, proxy.URL(), c.tokenFile)
	stop := runWorker(t, w)

	// Faults for a while, then a clean network: the rest must drain.
	faultFor := 20 * time.Second
	if testing.Short() {
		faultFor = 8 * time.Second
	}
	// Then on, up to twice as long again, until every kind of fault has
	// happened: at a 3 % rate and some 150 requests in 20 s under -race,
	// a kind can be missed by chance.
	kinds := []faultproxy.Fault{faultproxy.ResetMidBody, faultproxy.DropResponse, faultproxy.Status500,
		faultproxy.Status503, faultproxy.Status429, faultproxy.Timeout}
	allInjected := func() bool {
		stats := proxy.Stats()
		for _, f := range kinds {
			if stats[string(f)] == 0 {
				return false
			}
		}
		return true
	}
	begin := time.Now()
	for time.Since(begin) < faultFor || !testing.Short() && !allInjected() && time.Since(begin) < 3*faultFor {
		time.Sleep(200 * time.Millisecond)
	}
	proxy.SetFaults(faultproxy.Faults{})
	stats := proxy.Stats()
	t.Logf("%v after %v of faults: %v", proxy, time.Since(begin).Round(time.Second), stats)
	w.Notify()
	waitAccepted(t, q, n, 3*time.Minute)
	stop()
	verifyExactlyOnce(t, q, c)

	injected := 0
	for _, f := range kinds {
		injected += stats[string(f)]
		if stats[string(f)] == 0 && !testing.Short() {
			t.Errorf("fault %s never injected: the test did not exercise it (%v)", f, stats)
		}
	}
	if injected == 0 {
		t.Fatal("no fault was injected")
	}
	h := w.Health()
	if h.Failures == 0 || h.Uploaded != uint64(n) {
		t.Errorf("health = %+v; want failures counted and %d uploaded", h, n)
	}

	// Retry-After: once a 503 or 429 answer is written, the station
	// sends nothing until its second has passed. Requests already on
	// their way when the answer was written may still arrive: allow them
	// 300 ms, for a loaded machine under -race (the upload that got the
	// answer pauses the others as soon as it has read it). A station
	// that ignored the answer would go on sending all through the second.
	arr := proxy.Arrivals()
	for _, a := range arr {
		if a.Fault != faultproxy.Status503 && a.Fault != faultproxy.Status429 || a.Answered.IsZero() {
			continue
		}
		for _, b := range arr {
			d := b.Time.Sub(a.Answered)
			if d < 0 || d >= time.Second {
				continue
			}
			if d > 300*time.Millisecond {
				t.Errorf("%s %s arrived %v after a %s with Retry-After 1s", b.Method, b.Path, d.Round(time.Millisecond), a.Fault)
				break
			}
		}
	}
}
