package uplink_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"kioskd/kiosk/queue"
	"kioskd/kiosk/roster"
	"kioskd/sync/uplink"
	"kioskd/sync/wire"
)

func TestDrain(t *testing.T) {
	const n = 50
	f := newCentral(t)
	q := openQueue(t)
	recs := commit(t, q, f.station, n, 4<<10, 24<<10)
	w := f.worker(t, q, nil)
	w.Status = func() uplink.HeartbeatExtra {
		return uplink.HeartbeatExtra{Version: "v-test", Camera: "demo", DiskFree: 123 << 20}
	}
	start(t, w)
	// The queue marks a record accepted a moment before drain counts it.
	waitFor(t, 20*time.Second, "every record accepted and counted", func() bool {
		return count(t, q, queue.StateAccepted) == n && w.Health().Uploaded == n
	})

	var blobBytes uint64
	for i, r := range recs {
		got := state(t, q, r.ID)
		st, puts, ok := f.stored(r.ID)
		if !ok {
			t.Fatalf("central does not hold record %d", i)
		}
		if puts < 1 {
			t.Errorf("record %d: %d manifest PUTs", i, puts)
		}
		if got.Receipt != string(st.receipt) {
			t.Errorf("record %d: stored receipt %s; want central's %s", i, got.Receipt, st.receipt)
		}
		if got.AcceptedAt.IsZero() || got.LastError != "" {
			t.Errorf("record %d: AcceptedAt %v, LastError %q", i, got.AcceptedAt, got.LastError)
		}
		for _, ref := range []queue.BlobRef{r.Photo, r.Original} {
			b, ok := f.blob(ref.SHA256)
			if !ok || wire.SHA256(b) != ref.SHA256 || int64(len(b)) != ref.Size {
				t.Errorf("record %d: central's blob %.12s held %v, %d bytes", i, ref.SHA256, ok, len(b))
			}
			blobBytes += uint64(ref.Size)
		}
		if em, _, _, err := uplink.Manifest(q, got); err != nil {
			t.Errorf("record %d: Manifest = %v", i, err)
		} else if sum, _ := em.SHA256(); sum != st.sum {
			t.Errorf("record %d: Manifest (as kioskd export writes it) hashes to %s; central stored %s", i, sum, st.sum)
		}
		m := st.manifest
		want := newRecord(f.station, i)
		if m.Student.IDNumber != testID(i) || m.Student.Name != testName(i) || m.Operator != want.Operator ||
			m.Spec != want.Spec || m.Background != want.Background || m.Fee.Yuan != 30 || m.Fee.Method != "wechat" ||
			m.Fee.Receipt != want.Fee.Receipt || m.Consent.Version != want.Consent.Version || !m.Consent.At.Equal(want.Consent.At) ||
			!m.CapturedAt.Equal(r.CreatedAt) || m.Photo.SHA256 != r.Photo.SHA256 || m.Original.Size != r.Original.Size ||
			!jsonEqual(m.Measurements, want.Measurements) || !jsonEqual(m.Report, want.Report) || m.StationID != f.station {
			t.Errorf("record %d: manifest at central = %+v; want every field of the record", i, m)
		}
	}
	f.mu.Lock()
	seq := f.seq
	f.mu.Unlock()
	if seq != n {
		t.Errorf("central stored %d records; want %d, each once", seq, n)
	}
	h := w.Health()
	if h.Uploaded != n || h.Attempts != n || h.Failures != 0 || h.UploadedBytes < blobBytes || h.LastSuccess.IsZero() {
		t.Errorf("Health = %+v; want %d uploaded in %d attempts, >= %d bytes", h, n, n, blobBytes)
	}
	waitFor(t, 5*time.Second, "a heartbeat with the counts", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, hb := range f.heartbeats {
			if hb.Queue["accepted"] == n && hb.Version == "v-test" && hb.Camera == "demo" && hb.DiskFree == 123<<20 && hb.OldestPending.IsZero() {
				return true
			}
		}
		return false
	})
	waitFor(t, 2*time.Second, "state idle", func() bool { return w.Health().State == uplink.StateIdle })
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}

// TestRetryTaxonomy is reliability.md's N1: central answers one status
// to every manifest; the worker parks, blocks or retries as the protocol's
// error table says.
func TestRetryTaxonomy(t *testing.T) {
	codes := map[int]string{400: wire.CodeBadRequest, 401: wire.CodeUnauthorized, 403: wire.CodeForbidden,
		404: wire.CodeNotFound, 409: wire.CodeRecordConflict, 413: wire.CodeTooLarge, 422: wire.CodeInvalid,
		408: "timeout", 429: wire.CodeRateLimited, 500: wire.CodeInternal, 502: "bad_gateway",
		503: wire.CodeUnavailable, 504: "gateway_timeout"}
	for _, status := range []int{400, 401, 403, 404, 409, 413, 422, 408, 429, 500, 502, 503, 504} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			transient := status == 408 || status == 429 || status >= 500
			const failures = 3
			f := newCentral(t)
			var mu sync.Mutex
			answered := 0
			f.setHook(func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodPut || !strings.HasPrefix(r.URL.Path, "/v1/records/") {
					return false
				}
				mu.Lock()
				defer mu.Unlock()
				if transient && answered == failures {
					return false // central recovers
				}
				answered++
				writeError(w, status, codes[status], "injected", nil)
				return true
			})
			q := openQueue(t)
			rec := commit(t, q, f.station, 1, 2<<10, 8<<10)[0]
			w := f.worker(t, q, nil)
			// The gaps are the backoff plus an attempt's own time, which on
			// a loaded machine under -race reaches 100 ms: a base well above
			// that keeps the growth visible (at 20 ms a loaded run saw gaps
			// of 121, 113 and 118 ms).
			const base = 100 * time.Millisecond
			w.BackoffBase, w.BackoffCap = base, 2*time.Second
			uplink.SetJitter(w, func(max time.Duration) time.Duration { return max })
			start(t, w)

			attempts := func() []request { return f.requestsTo(http.MethodPut, "/v1/records/") }
			switch {
			case transient:
				waitFor(t, 10*time.Second, "acceptance after recovery", func() bool { return w.Health().Uploaded == 1 })
				if got := state(t, q, rec.ID); got.State != queue.StateAccepted {
					t.Fatalf("record = %s; want accepted", got.State)
				}
				at := attempts()
				if len(at) < failures+1 {
					t.Fatalf("%d manifest attempts; want >= %d", len(at), failures+1)
				}
				var gaps []time.Duration
				for i := 1; i < len(at); i++ {
					gaps = append(gaps, at[i].at.Sub(at[i-1].at))
				}
				for i, g := range gaps {
					if floor := base << i; g < floor {
						t.Errorf("gap %d = %v; want >= %v (exponential backoff)", i, g, floor)
					}
				}
				if gaps[len(gaps)-1] <= gaps[0] {
					t.Errorf("gaps %v do not grow", gaps)
				}
				if h := w.Health(); h.Failures != failures || h.Uploaded != 1 {
					t.Errorf("Health = %+v; want %d failures, 1 uploaded", h, failures)
				}
			case status == 401 || status == 403:
				waitFor(t, 5*time.Second, "blocked", func() bool { return w.Health().State == uplink.StateBlocked })
				time.Sleep(300 * time.Millisecond) // several polls and backoffs would fit here
				if n := len(attempts()); n > 2 {
					t.Errorf("%d manifest attempts while blocked; want <= 2", n)
				}
				got := state(t, q, rec.ID)
				if got.State != queue.StateQueued || !strings.Contains(got.LastError, fmt.Sprint(status)) {
					t.Errorf("record = %s (%q); want queued with the %d as its last error", got.State, got.LastError, status)
				}
				if h := w.Health(); time.Until(h.NextRetry) < 50*time.Minute || h.LastError == "" {
					t.Errorf("Health = %+v; want the next try an hour (BlockedRetry) away", h)
				}
				refused := attempts()[0].at
				for _, r := range f.allRequests() {
					if r.at.After(refused) {
						t.Errorf("%s %s %v after the refusal; want no request while blocked", r.method, r.path, r.at.Sub(refused))
					}
				}
			default:
				waitFor(t, 5*time.Second, "parked", func() bool { return state(t, q, rec.ID).State == queue.StateParked })
				time.Sleep(200 * time.Millisecond)
				if n := len(attempts()); n > 2 {
					t.Errorf("%d manifest attempts; want <= 2", n)
				}
				got := state(t, q, rec.ID)
				if got.State != queue.StateParked || !strings.Contains(got.Reason, fmt.Sprint(status)) || !strings.Contains(got.Reason, codes[status]) {
					t.Errorf("record = %s (%q); want parked, the reason naming %d %s", got.State, got.Reason, status, codes[status])
				}
			}
		})
	}
}

// TestRetryAfter: after a 429 or 503 with Retry-After, no request of any
// kind reaches central before the wait is over.
func TestRetryAfter(t *testing.T) {
	for _, c := range []struct {
		name   string
		status int
		header func(now time.Time) string
		wait   time.Duration
	}{
		{"seconds", 429, func(time.Time) string { return "1" }, time.Second},
		{"http date", 503, func(now time.Time) string { return now.Add(2 * time.Second).UTC().Format(http.TimeFormat) }, time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newCentral(t)
			var mu sync.Mutex
			var refusedAt time.Time
			f.setHook(func(w http.ResponseWriter, r *http.Request) bool {
				mu.Lock()
				defer mu.Unlock()
				if !refusedAt.IsZero() || r.Method != http.MethodPut || !strings.HasPrefix(r.URL.Path, "/v1/records/") {
					return false
				}
				now := time.Now()
				w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
				w.Header().Set("Retry-After", c.header(now))
				refusedAt = now
				writeError(w, c.status, wire.CodeRateLimited, "slow down", nil)
				return true
			})
			q := openQueue(t)
			recs := commit(t, q, f.station, 3, 2<<10, 8<<10)
			w := f.worker(t, q, nil)
			w.Parallel = 1
			start(t, w)
			waitFor(t, 10*time.Second, "all accepted", func() bool { return count(t, q, queue.StateAccepted) == len(recs) })
			mu.Lock()
			refused := refusedAt
			mu.Unlock()
			for _, r := range f.allRequests() {
				if r.at.After(refused) && r.at.Sub(refused) < c.wait {
					t.Errorf("%s %s came %v after the refusal; want none before %v", r.method, r.path, r.at.Sub(refused), c.wait)
				}
			}
		})
	}
}

// TestRetryWhenBackoffAlreadyOver: a failed upload is retried when its
// backoff ends even if that moment has passed by the time the worker
// chooses its next wake-up (a full-jitter backoff can be almost zero);
// it must not wait for the next feed or heartbeat (an hour here).
func TestRetryWhenBackoffAlreadyOver(t *testing.T) {
	f := newCentral(t)
	var refused atomic.Bool
	f.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPut || !strings.HasPrefix(r.URL.Path, "/v1/records/") || !refused.CompareAndSwap(false, true) {
			return false
		}
		writeError(w, http.StatusServiceUnavailable, wire.CodeUnavailable, "restarting", nil)
		return true
	})
	q := openQueue(t)
	commit(t, q, f.station, 1, 2<<10, 8<<10)
	w := f.worker(t, q, nil)
	w.Interval, w.HeartbeatEvery = time.Hour, time.Hour
	w.BackoffBase, w.BackoffCap = time.Nanosecond, time.Nanosecond
	start(t, w)
	waitFor(t, 5*time.Second, "accepted after one refusal", func() bool {
		return refused.Load() && count(t, q, queue.StateAccepted) == 1
	})
}

// TestLostAnswer: central commits the record, then the connection drops
// before the answer. The retry gets the same receipt; central holds it once.
func TestLostAnswer(t *testing.T) {
	f := newCentral(t)
	var once sync.Once
	f.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPut || !strings.HasPrefix(r.URL.Path, "/v1/records/") {
			return false
		}
		dropped := false
		once.Do(func() {
			rec := httptest.NewRecorder()
			f.serve(rec, r) // committed
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			conn.Close()
			dropped = true
		})
		return dropped
	})
	q := openQueue(t)
	rec := commit(t, q, f.station, 1, 2<<10, 8<<10)[0]
	w := f.worker(t, q, nil)
	start(t, w)
	waitFor(t, 10*time.Second, "accepted", func() bool { return state(t, q, rec.ID).State == queue.StateAccepted })
	st, puts, _ := f.stored(rec.ID)
	if puts != 2 {
		t.Errorf("%d manifest PUTs; want 2 (the lost one and the retry)", puts)
	}
	f.mu.Lock()
	seq := f.seq
	f.mu.Unlock()
	if seq != 1 {
		t.Errorf("central stored %d records; want 1", seq)
	}
	if got := state(t, q, rec.ID); got.Receipt != string(st.receipt) || got.Attempts != 2 {
		t.Errorf("record receipt %s after %d attempts; want central's first receipt %s after 2", got.Receipt, got.Attempts, st.receipt)
	}
}

// TestReviews: outcomes reach the queue and the roster, the cursor is kept,
// a replay after 410 changes nothing, and a record whose upload answer
// was lost settles from its review without a second upload.
func TestReviews(t *testing.T) {
	f := newCentral(t)
	q := openQueue(t)
	ro := openRoster(t)
	recs := commit(t, q, f.station, 3, 2<<10, 8<<10)
	var rows []roster.Row
	for i := range 3 {
		rows = append(rows, roster.Row{IDNumber: testID(i), Name: testName(i)})
	}
	if _, err := ro.Import(rows, roster.Replace); err != nil {
		t.Fatal(err)
	}
	w := f.worker(t, q, ro)
	start(t, w)
	waitFor(t, 10*time.Second, "all accepted", func() bool { return count(t, q, queue.StateAccepted) == 3 })

	f.review(recs[0].ID, wire.OutcomeApproved, "")
	f.review(recs[1].ID, wire.OutcomeRejected, "背景不均匀 / uneven background")
	waitFor(t, 5*time.Second, "reviews applied", func() bool {
		return state(t, q, recs[0].ID).State == queue.StateApproved && state(t, q, recs[1].ID).State == queue.StateRejected
	})
	if got := state(t, q, recs[1].ID); got.Reason != "背景不均匀 / uneven background" {
		t.Errorf("rejected record's reason = %q", got.Reason)
	}
	m, err := ro.IdentifyByID(testID(1), testName(1))
	if err != nil || m.State != roster.StatusRejected || m.RecordID != recs[1].ID || !strings.Contains(m.Reason, "背景") {
		t.Errorf("roster shows the rejected student as %+v, %v; want rejected with the reason and record", m, err)
	}
	if m, _ := ro.IdentifyByID(testID(0), testName(0)); m.State != roster.StatusApproved {
		t.Errorf("approved student shows %s", m.State)
	}
	waitFor(t, 2*time.Second, "the cursor", func() bool { c, _ := q.Cursor("reviews"); return c == f.epoch+".2" })

	// Central restored under a new epoch: the old cursor is 410, the feed
	// restarts from "" and replaying both outcomes changes nothing.
	before := []queue.Record{state(t, q, recs[0].ID), state(t, q, recs[1].ID)}
	f.newEpoch("9a9a9a9a9a9a9a9a")
	waitFor(t, 5*time.Second, "the new epoch's cursor", func() bool { c, _ := q.Cursor("reviews"); return c == "9a9a9a9a9a9a9a9a.2" })
	restarted := false
	for _, r := range f.requestsTo(http.MethodGet, "/v1/reviews") {
		restarted = restarted || r.query == "since="
	}
	if !restarted {
		t.Errorf("no review request from an empty cursor after the 410")
	}
	for i, b := range before {
		a := state(t, q, b.ID)
		if a.State != b.State || !a.UpdatedAt.Equal(b.UpdatedAt) {
			t.Errorf("record %d changed on replay: %s %v → %s %v", i, b.State, b.UpdatedAt, a.State, a.UpdatedAt)
		}
	}
}

func TestReviewSettlesLostUpload(t *testing.T) {
	f := newCentral(t)
	f.loseRecordAnswers(nil)
	q := openQueue(t)
	rec := commit(t, q, f.station, 1, 2<<10, 8<<10)[0]
	w := f.worker(t, q, nil)
	w.BackoffBase, w.BackoffCap = time.Hour, time.Hour
	uplink.SetJitter(w, func(max time.Duration) time.Duration { return max })
	stop := start(t, w)
	waitFor(t, 5*time.Second, "central to hold the record", func() bool { _, _, ok := f.stored(rec.ID); return ok })
	waitFor(t, 5*time.Second, "the worker to back off", func() bool { return w.Health().State == uplink.StateOffline })
	stop()
	if got := state(t, q, rec.ID); got.State != queue.StateQueued {
		t.Fatalf("record = %s; want queued (its answer was lost)", got.State)
	}

	f.setHook(nil)
	f.review(rec.ID, wire.OutcomeApproved, "")
	w2 := f.worker(t, q, nil)
	start(t, w2)
	waitFor(t, 5*time.Second, "approved", func() bool { return state(t, q, rec.ID).State == queue.StateApproved })
	st, puts, _ := f.stored(rec.ID)
	if got := state(t, q, rec.ID); got.Receipt != string(st.receipt) || got.AcceptedAt.IsZero() {
		t.Errorf("record receipt = %s; want the review's %s", got.Receipt, st.receipt)
	}
	time.Sleep(100 * time.Millisecond)
	if _, puts2, _ := f.stored(rec.ID); puts2 != puts || puts != 1 {
		t.Errorf("manifest PUTs = %d then %d; want 1 (the review settled it, no second upload)", puts, puts2)
	}
}

func TestRoster(t *testing.T) {
	f := newCentral(t)
	f.pageLimit = 2
	for i := range 5 {
		f.upsert(wire.RosterStudent{IDNumber: testID(i), Name: testName(i), School: "示例大学", Code: fmt.Sprintf("C%d", i)})
	}
	f.remove(testID(9)) // a delete in the full listing: never here, stays absent
	q := openQueue(t)
	ro := openRoster(t)
	w := f.worker(t, q, ro)
	start(t, w)
	waitFor(t, 5*time.Second, "the full load", func() bool { c, _ := ro.Cursor(); return c == f.epoch+".6" })
	for i := range 5 {
		if m, err := ro.IdentifyByID(testID(i), testName(i)); err != nil || m.State != roster.StatusEligible {
			t.Errorf("student %d = %+v, %v; want eligible", i, m, err)
		}
	}

	f.upsert(wire.RosterStudent{IDNumber: testID(1), Name: testName(1), Status: "collected_online"})
	f.upsert(wire.RosterStudent{IDNumber: testID(2), Name: testName(2), Status: "rejected", Reason: "闭眼"})
	f.remove(testID(3))
	f.upsert(wire.RosterStudent{IDNumber: testID(7), Name: testName(7), Code: "C7"})
	waitFor(t, 5*time.Second, "the deltas", func() bool { c, _ := ro.Cursor(); return c == f.epoch+".10" })
	want := map[int]roster.Status{0: roster.StatusEligible, 1: roster.StatusCollectedOnline, 2: roster.StatusRejected,
		3: roster.StatusNotOnRoster, 4: roster.StatusEligible, 7: roster.StatusEligible}
	for i, st := range want {
		if m, _ := ro.IdentifyByID(testID(i), testName(i)); m.State != st {
			t.Errorf("student %d = %s; want %s", i, m.State, st)
		}
	}
	if m, _ := ro.IdentifyByCode("C7"); m.Name != testName(7) {
		t.Errorf("IdentifyByCode(C7) = %+v", m)
	}
	full := len(f.requestsTo(http.MethodGet, "/v1/roster"))

	// A restore under a new epoch: 410, then a full reload.
	// One change: a reload between the two would keep student 4.
	f.mu.Lock()
	f.epoch = "7777777777777777"
	delete(f.roster, testID(4)) // gone from central entirely
	f.mu.Unlock()
	waitFor(t, 5*time.Second, "the reload", func() bool { c, _ := ro.Cursor(); return strings.HasPrefix(c, "7777777777777777.") })
	reloads := 0
	for _, r := range f.requestsTo(http.MethodGet, "/v1/roster")[full:] {
		if r.query == "since=" {
			reloads++
		}
	}
	if reloads != 1 {
		t.Errorf("%d reloads from an empty cursor after the 410; want 1", reloads)
	}
	if m, _ := ro.IdentifyByID(testID(4), testName(4)); m.State != roster.StatusNotOnRoster {
		t.Errorf("student missing from the reload = %s; want not_on_roster", m.State)
	}
	if m, _ := ro.IdentifyByID(testID(2), testName(2)); m.State != roster.StatusRejected {
		t.Errorf("student 2 after the reload = %s; want rejected", m.State)
	}
}

// TestWatchdog: central stops reading an upload; the request is cancelled
// after the stall timeout (not after the handler gives up) and retried.
func TestWatchdog(t *testing.T) {
	f := newCentral(t)
	const stall = 200 * time.Millisecond
	var stalledOnce atomic.Bool
	released := make(chan struct{})
	t.Cleanup(func() { close(released) })
	f.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPut || !strings.HasPrefix(r.URL.Path, "/v1/blobs/") || r.ContentLength < 1<<20 {
			return false
		}
		if !stalledOnce.CompareAndSwap(false, true) {
			return false
		}
		select { // read nothing until the client gives up or the test ends
		case <-r.Context().Done():
		case <-released:
		}
		return true
	})
	q := openQueue(t)
	rec := commit(t, q, f.station, 1, 4<<10, 2<<20)[0]
	w := uplink.New(q, nil, f.client(t, stall), f.station)
	w.Logger = newTextLogger(testWriter{t})
	w.BackoffBase, w.BackoffCap = 5*time.Millisecond, 10*time.Millisecond
	w.Interval, w.HeartbeatEvery = time.Hour, time.Hour
	start(t, w)
	waitFor(t, 10*time.Second, "accepted", func() bool { return w.Health().Uploaded == 1 })
	puts := f.requestsTo(http.MethodPut, "/v1/blobs/sha256:"+rec.Original.SHA256)
	if len(puts) != 2 {
		t.Fatalf("%d PUTs of the original; want 2 (stalled, retried)", len(puts))
	}
	// The gap runs from the server's start on the stalled PUT; the
	// client's stall timer may have started a little earlier, when its
	// last write went into the socket.
	if gap := puts[1].at.Sub(puts[0].at); gap < stall*3/4 || gap > 5*time.Second {
		t.Errorf("retry %v after the stalled PUT; want about the stall timeout %v", gap, stall)
	}
	if h := w.Health(); h.Failures != 1 || !strings.Contains(h.LastError, "no byte moved") {
		t.Errorf("Health = %+v; want one failure, the stall as the last error", h)
	}
}

// TestParksUnsendable: purged, damaged and foreign records are parked
// without a request; a record whose blob is gone is parked with the reason.
func TestParksUnsendable(t *testing.T) {
	f := newCentral(t)
	q := openQueue(t)
	recs := commit(t, q, f.station, 2, 2<<10, 8<<10)
	other, err := q.Commit(newRecord("lib-2", 5), randomBytes(t, 2<<10), randomBytes(t, 8<<10))
	if err != nil {
		t.Fatal(err)
	}
	// Remove record 1's original from disk; Reconcile would mark it damaged.
	if err := removeBlob(q, recs[1].Original.SHA256); err != nil {
		t.Fatal(err)
	}
	w := f.worker(t, q, nil)
	start(t, w)
	waitFor(t, 5*time.Second, "two parked, one accepted", func() bool {
		return count(t, q, queue.StateParked) == 2 && count(t, q, queue.StateAccepted) == 1
	})
	if got := state(t, q, other.ID); !strings.Contains(got.Reason, "lib-2") {
		t.Errorf("foreign record reason = %q", got.Reason)
	}
	if got := state(t, q, recs[1].ID); !strings.Contains(got.Reason, "missing") {
		t.Errorf("record without its original: reason = %q", got.Reason)
	}
	if _, puts, _ := f.stored(other.ID); puts != 0 {
		t.Errorf("foreign record sent %d times; want never", puts)
	}
}

// TestMissingBlobs: central loses a blob after answering HEAD; the 412 lists
// it, the worker uploads it and sends the manifest once more.
func TestMissingBlobs(t *testing.T) {
	f := newCentral(t)
	var once sync.Once
	f.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/v1/records/") {
			once.Do(func() {
				f.mu.Lock()
				clear(f.blobs)
				f.mu.Unlock()
			})
		}
		return false
	})
	q := openQueue(t)
	rec := commit(t, q, f.station, 1, 2<<10, 8<<10)[0]
	w := f.worker(t, q, nil)
	start(t, w)
	waitFor(t, 5*time.Second, "accepted", func() bool { return state(t, q, rec.ID).State == queue.StateAccepted })
	if _, puts, _ := f.stored(rec.ID); puts != 2 {
		t.Errorf("%d manifest PUTs; want 2 (412, then after the blobs)", puts)
	}
	if h := w.Health(); h.Failures != 0 || h.Attempts != 1 {
		t.Errorf("Health = %+v; want one attempt without failure", h)
	}
}

// TestHashMismatch: central says the bytes do not hash to the name. The
// worker reads the blob again; it verifies, so it is sent once more; a
// second refusal parks the record.
func TestHashMismatch(t *testing.T) {
	f := newCentral(t)
	f.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/v1/blobs/") {
			writeError(w, http.StatusUnprocessableEntity, wire.CodeHashMismatch, "injected", nil)
			return true
		}
		return false
	})
	q := openQueue(t)
	rec := commit(t, q, f.station, 1, 2<<10, 8<<10)[0]
	w := f.worker(t, q, nil)
	start(t, w)
	waitFor(t, 5*time.Second, "parked", func() bool { return state(t, q, rec.ID).State == queue.StateParked })
	if n := len(f.requestsTo(http.MethodPut, "/v1/blobs/")); n != 2 {
		t.Errorf("%d blob PUTs; want 2 (the first, then once after re-reading)", n)
	}
	if got := state(t, q, rec.ID); !strings.Contains(got.Reason, "twice") {
		t.Errorf("reason = %q", got.Reason)
	}
}

// TestNoGoroutineLeft: after Run returns, none of the worker's goroutines
// (uploads, timers, connections) remain.
func TestNoGoroutineLeft(t *testing.T) {
	f := newCentral(t)
	q := openQueue(t)
	commit(t, q, f.station, 8, 2<<10, 64<<10)
	runtime.GC()
	before := runtime.NumGoroutine()
	w := f.worker(t, q, nil)
	stop := start(t, w)
	waitFor(t, 10*time.Second, "drained", func() bool { return count(t, q, queue.StateAccepted) == 8 })
	stop()
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > before+1 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines after Run returned; %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLogsNoPersonalData runs a drain with a failure streak and checks
// the log for ID numbers, names and the token.
func TestLogsNoPersonalData(t *testing.T) {
	f := newCentral(t)
	fails := 2
	var mu sync.Mutex
	f.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if fails > 0 && r.Method == http.MethodPut {
			fails--
			writeError(w, 503, wire.CodeUnavailable, "down", nil)
			return true
		}
		return false
	})
	q := openQueue(t)
	commit(t, q, f.station, 3, 2<<10, 8<<10)
	var logs syncBuffer
	w := f.worker(t, q, nil)
	w.Logger = newTextLogger(&logs)
	start(t, w)
	// The drain logs its recovery after its last record is accepted, so
	// wait for the line too rather than read the log at the last accept.
	waitFor(t, 5*time.Second, "drained and recovered", func() bool {
		return count(t, q, queue.StateAccepted) == 3 && strings.Contains(logs.String(), "sync recovered")
	})
	out := logs.String()
	for i := range 3 {
		if strings.Contains(out, testID(i)) || strings.Contains(out, testName(i)) {
			t.Fatalf("log holds personal data:\n%s", out)
		}
	}
	if strings.Contains(out, f.token) {
		t.Fatalf("log holds the token")
	}
	if strings.Count(out, "sync failing") != 1 || strings.Count(out, "sync recovered") != 1 {
		t.Errorf("want one failing and one recovered line:\n%s", out)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
