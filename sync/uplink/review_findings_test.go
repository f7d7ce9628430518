package uplink_test

// Regression tests from the sync review (a review's receipt, a parked
// record's review).

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"kioskd/kiosk/queue"
	"kioskd/sync/uplink"
	"kioskd/sync/wire"
)

// TestReviewReceiptMustMatchManifest: the contract says the station marks
// a record accepted only on a receipt that matches the manifest it would
// send (same record, same station, its own manifest hash, a server
// sequence). A review's receipt settles a queued record without that
// check: here a review whose receipt names another station and another
// manifest hash turns a record central never received into "approved",
// and the record is never uploaded.
func TestReviewReceiptMustMatchManifest(t *testing.T) {
	f := newCentral(t)
	// Central refuses every upload for now, so only the feed can move the
	// record.
	f.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet || r.Method == http.MethodPost { // feeds, heartbeat
			return false
		}
		writeError(w, http.StatusServiceUnavailable, wire.CodeUnavailable, "busy", nil)
		return true
	})
	q := openQueue(t)
	rec := commit(t, q, f.station, 1, 2<<10, 8<<10)[0]
	f.mu.Lock()
	f.reviews = append(f.reviews, wire.Review{RecordID: rec.ID, Outcome: wire.OutcomeApproved, ReviewedAt: time.Now().UTC(),
		Receipt: wire.Receipt{RecordID: rec.ID, StationID: "lib-2", ServerSeq: 7, CommittedAt: time.Now().UTC(),
			ManifestSHA256: strings.Repeat("0", 64), ServerEpoch: f.epoch}})
	f.mu.Unlock()

	w := f.worker(t, q, nil)
	w.BackoffBase, w.BackoffCap = time.Hour, time.Hour
	start(t, w)
	waitFor(t, 5*time.Second, "the review cursor", func() bool { c, _ := q.Cursor("reviews"); return c == f.epoch+".1" })
	if _, _, held := f.stored(rec.ID); held {
		t.Fatal("central holds the record; the test wants it not to")
	}
	if got := state(t, q, rec.ID); got.State == queue.StateApproved || got.State == queue.StateAccepted {
		t.Errorf("record is %s with receipt %s, which does not match its manifest (station lib-2, hash 000…); "+
			"want it still queued: a review's receipt must pass Receipt.Matches like an upload's", got.State, got.Receipt)
	}
}

// TestParkedRecordReviewIsNotLost: central committed a record whose upload
// answer was lost; before the retry the record's local blob went missing,
// so the station parked it. Central's review of it arrives while it is
// parked. It used to be skipped, and the cursor moved past it: the
// rejection (and the free retake it grants) never reached the queue. A
// review whose receipt matches the record now settles it, parked or not.
func TestParkedRecordReviewIsNotLost(t *testing.T) {
	f := newCentral(t)
	var lose atomic.Bool
	lose.Store(true)
	f.loseRecordAnswers(lose.Load)
	q := openQueue(t)
	rec := commit(t, q, f.station, 1, 2<<10, 8<<10)[0]

	w := f.worker(t, q, nil)
	w.BackoffBase, w.BackoffCap = time.Hour, time.Hour
	uplink.SetJitter(w, func(max time.Duration) time.Duration { return max })
	stop := start(t, w)
	waitFor(t, 5*time.Second, "central to hold the record", func() bool { _, _, ok := f.stored(rec.ID); return ok })
	waitFor(t, 5*time.Second, "the worker to back off", func() bool { return w.Health().State == uplink.StateOffline })
	stop()
	lose.Store(false)

	// The photo goes missing locally (a bad sector, a mistaken cleanup):
	// the next attempt parks the record without a request.
	photo := filepath.Join(q.Dir(), queue.BlobDir, rec.Photo.SHA256)
	if err := os.Remove(photo); err != nil {
		t.Fatal(err)
	}
	w2 := f.worker(t, q, nil)
	start(t, w2)
	waitFor(t, 5*time.Second, "the record parked", func() bool { return state(t, q, rec.ID).State == queue.StateParked })

	// Central rejects it: the review's receipt matches the record's
	// manifest, so it settles the parked record (central holds its copy).
	f.review(rec.ID, wire.OutcomeRejected, "背景不均匀 / uneven background")
	waitFor(t, 5*time.Second, "the review cursor", func() bool { c, _ := q.Cursor("reviews"); return c == f.epoch+".1" })
	got := state(t, q, rec.ID)
	if got.State != queue.StateRejected || got.Reason != "背景不均匀 / uneven background" || got.Receipt == "" {
		t.Fatalf("record is %s (%q, receipt %q); want rejected with central's reason and receipt: "+
			"central rejected it while it was parked here", got.State, got.Reason, got.Receipt)
	}
	// Nothing is left for the operator to retry.
	if err := q.Unpark(rec.ID); err == nil {
		t.Error("Unpark of the settled record succeeded")
	}
}

// TestRefusedCursorRestartsTheFeed: central cannot read the stored review
// cursor (400: kept from another central, or damaged); the feed starts
// again from an empty cursor instead of failing every turn for ever.
func TestRefusedCursorRestartsTheFeed(t *testing.T) {
	f := newCentral(t)
	f.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet && r.URL.Path == "/v1/reviews" && r.URL.Query().Get("since") == "other-central.9" {
			writeError(w, http.StatusBadRequest, wire.CodeBadRequest, "malformed cursor", nil)
			return true
		}
		return false
	})
	q := openQueue(t)
	if _, err := q.ApplyReviews("reviews", nil, "other-central.9"); err != nil {
		t.Fatal(err)
	}
	rec := commit(t, q, f.station, 1, 2<<10, 8<<10)[0]
	w := f.worker(t, q, nil)
	start(t, w)
	waitFor(t, 5*time.Second, "the record accepted", func() bool { return state(t, q, rec.ID).State == queue.StateAccepted })
	f.review(rec.ID, wire.OutcomeApproved, "")
	waitFor(t, 5*time.Second, "the review applied", func() bool { return state(t, q, rec.ID).State == queue.StateApproved })
	if c, _ := q.Cursor("reviews"); c != f.epoch+".1" {
		t.Errorf("review cursor = %q; want %s.1 (the feed read again from the start)", c, f.epoch)
	}
}

// TestHeartbeatFollowsReviews: once review outcomes are applied, the next
// heartbeat goes at once (central's page shows the new counts), not after
// HeartbeatEvery.
func TestHeartbeatFollowsReviews(t *testing.T) {
	f := newCentral(t)
	q := openQueue(t)
	rec := commit(t, q, f.station, 1, 2<<10, 8<<10)[0]
	w := f.worker(t, q, nil)
	w.HeartbeatEvery = time.Hour
	start(t, w)
	waitFor(t, 5*time.Second, "the record accepted", func() bool { return state(t, q, rec.ID).State == queue.StateAccepted })
	// The drain's heartbeat says accepted 1.
	waitFor(t, 5*time.Second, "a heartbeat after the drain", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.heartbeats) > 0 && f.heartbeats[len(f.heartbeats)-1].Queue["accepted"] == 1
	})
	f.review(rec.ID, wire.OutcomeRejected, "背景不均匀 / uneven background")
	waitFor(t, 5*time.Second, "a heartbeat counting the rejection", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.heartbeats) > 0 && f.heartbeats[len(f.heartbeats)-1].Queue["rejected"] == 1
	})
}
