package queue_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"kioskd/kiosk/queue"
)

const reviewsFeed = "reviews"

func TestApplyReviews(t *testing.T) {
	const rcpt = `{"record_id":"x","server_seq":7}`
	approve := func(id string) queue.Review {
		return queue.Review{RecordID: id, Outcome: queue.OutcomeApproved, Receipt: rcpt}
	}
	reject := func(id string) queue.Review {
		return queue.Review{RecordID: id, Outcome: queue.OutcomeRejected, Reason: "背景不均匀 / uneven background", Receipt: rcpt}
	}
	cases := []struct {
		name       string
		from       queue.State
		review     func(id string) queue.Review
		want       queue.State
		wantResult queue.ApplyResult // Skipped holds "ID" for the record's ID
	}{
		{"accepted approved", queue.StateAccepted, approve, queue.StateApproved, queue.ApplyResult{Approved: 1}},
		{"accepted rejected", queue.StateAccepted, reject, queue.StateRejected, queue.ApplyResult{Rejected: 1}},
		{"queued takes the receipt", queue.StateQueued, approve, queue.StateApproved, queue.ApplyResult{Approved: 1}},
		{"uploading takes the receipt", queue.StateUploading, reject, queue.StateRejected, queue.ApplyResult{Rejected: 1}},
		{"approved again", queue.StateApproved, approve, queue.StateApproved, queue.ApplyResult{Unchanged: 1}},
		{"rejected again", queue.StateRejected, reject, queue.StateRejected, queue.ApplyResult{Unchanged: 1}},
		{"approved then rejected", queue.StateApproved, reject, queue.StateApproved, queue.ApplyResult{Skipped: []string{"ID"}}},
		{"rejected then approved", queue.StateRejected, approve, queue.StateRejected, queue.ApplyResult{Skipped: []string{"ID"}}},
		{"parked, with a receipt", queue.StateParked, approve, queue.StateApproved, queue.ApplyResult{Approved: 1}},
		{"parked without a receipt", queue.StateParked, func(id string) queue.Review {
			return queue.Review{RecordID: id, Outcome: queue.OutcomeApproved}
		}, queue.StateParked, queue.ApplyResult{Skipped: []string{"ID"}}},
		{"queued without a receipt", queue.StateQueued, func(id string) queue.Review {
			return queue.Review{RecordID: id, Outcome: queue.OutcomeApproved}
		}, queue.StateQueued, queue.ApplyResult{Skipped: []string{"ID"}}},
		{"unknown outcome", queue.StateAccepted, func(id string) queue.Review {
			return queue.Review{RecordID: id, Outcome: "maybe", Receipt: rcpt}
		}, queue.StateAccepted, queue.ApplyResult{Skipped: []string{"ID"}}},
		{"rejection without a reason", queue.StateAccepted, func(id string) queue.Review {
			return queue.Review{RecordID: id, Outcome: queue.OutcomeRejected, Receipt: rcpt}
		}, queue.StateAccepted, queue.ApplyResult{Skipped: []string{"ID"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := openQueue(t, t.TempDir(), queue.Options{Now: newClock().Now})
			r, _, _ := commit(t, q, testIDNumber)
			for _, o := range paths[c.from] {
				if err := o.do(q, r.ID); err != nil {
					t.Fatalf("%s: %v", o.name, err)
				}
			}
			before, _ := q.Get(r.ID)
			if len(c.wantResult.Skipped) > 0 {
				c.wantResult.Skipped = []string{r.ID}
			}
			res, err := q.ApplyReviews(reviewsFeed, []queue.Review{c.review(r.ID)}, "epoch.5")
			if err != nil {
				t.Fatalf("ApplyReviews = %v", err)
			}
			if !sameResult(res, c.wantResult) {
				t.Errorf("ApplyReviews = %+v; want %+v", res, c.wantResult)
			}
			got, _ := q.Get(r.ID)
			if got.State != c.want {
				t.Errorf("state %s → %s; want %s", c.from, got.State, c.want)
			}
			if cur, _ := q.Cursor(reviewsFeed); cur != "epoch.5" {
				t.Errorf("Cursor = %q; want epoch.5 even when a review was skipped", cur)
			}
			switch {
			case c.want == c.from:
				if got.UpdatedAt != before.UpdatedAt || got.Reason != before.Reason {
					t.Errorf("record changed (%+v → %+v); want it untouched", before, got)
				}
			case c.from == queue.StateQueued || c.from == queue.StateUploading:
				if got.Receipt != rcpt || got.AcceptedAt.IsZero() || got.LastError != "" {
					t.Errorf("Receipt = %q, AcceptedAt = %v, LastError = %q; want the review's receipt, a time, no error",
						got.Receipt, got.AcceptedAt, got.LastError)
				}
			}
			if c.want == queue.StateRejected && got.Reason == "" {
				t.Errorf("rejected without its reason")
			}
			if c.want != c.from && got.ReviewedAt.IsZero() {
				t.Errorf("ReviewedAt not set")
			}
		})
	}
}

func sameResult(a, b queue.ApplyResult) bool {
	return a.Approved == b.Approved && a.Rejected == b.Rejected && a.Unchanged == b.Unchanged && slices.Equal(a.Skipped, b.Skipped)
}

// TestApplyReviewsIdempotent applies one page twice, as after a crash
// between central's answer and the next sync: the second time changes
// nothing, and a late MarkAccepted of the same receipt is a no-op too.
func TestApplyReviewsIdempotent(t *testing.T) {
	clk := newClock()
	q := openQueue(t, t.TempDir(), queue.Options{Now: clk.Now})
	var recs []queue.Record
	for range 4 {
		r, _, _ := commit(t, q, testIDNumber)
		recs = append(recs, r)
	}
	for _, r := range recs[:3] {
		mustDo(t, q, r.ID, opUp, opAccept)
	}
	mustDo(t, q, recs[3].ID, opUp) // its upload answer was lost
	const unknown = "0190d6a4-5b1e-7c3a-9f00-1a2b3c4d5e6f"
	page := []queue.Review{
		{RecordID: recs[0].ID, Outcome: queue.OutcomeApproved, Receipt: "rcpt-1"},
		{RecordID: recs[1].ID, Outcome: queue.OutcomeRejected, Reason: "闭眼 / eyes closed", Receipt: "rcpt-1"},
		{RecordID: unknown, Outcome: queue.OutcomeApproved, Receipt: "rcpt-9"},
		{RecordID: recs[3].ID, Outcome: queue.OutcomeApproved, Receipt: "rcpt-4"},
		{RecordID: recs[1].ID, Outcome: queue.OutcomeRejected, Reason: "闭眼 / eyes closed", Receipt: "rcpt-1"}, // repeated within the page
	}
	res, err := q.ApplyReviews(reviewsFeed, page, "e.10")
	if err != nil {
		t.Fatal(err)
	}
	if want := (queue.ApplyResult{Approved: 2, Rejected: 1, Unchanged: 1, Skipped: []string{unknown}}); !sameResult(res, want) {
		t.Errorf("first apply = %+v; want %+v", res, want)
	}
	snapshot := func() []queue.Record {
		all, err := q.List("", 0)
		if err != nil {
			t.Fatal(err)
		}
		return all
	}
	first := snapshot()
	clk.Advance(time.Hour)
	res, err = q.ApplyReviews(reviewsFeed, page, "e.10")
	if err != nil {
		t.Fatal(err)
	}
	if want := (queue.ApplyResult{Unchanged: 4, Skipped: []string{unknown}}); !sameResult(res, want) {
		t.Errorf("second apply = %+v; want %+v", res, want)
	}
	// The late answer to the lost upload arrives after the review.
	if err := q.MarkAccepted(recs[3].ID, "rcpt-4"); err != nil {
		t.Errorf("MarkAccepted after the review took the receipt = %v; want a no-op", err)
	}
	second := snapshot()
	for i := range first {
		a, b := first[i], second[i]
		if a.State != b.State || !a.UpdatedAt.Equal(b.UpdatedAt) || a.Receipt != b.Receipt || a.Reason != b.Reason {
			t.Errorf("record %d changed on the second apply: %+v → %+v", i, a, b)
		}
	}
	if second[3].State != queue.StateApproved || second[3].Receipt != "rcpt-4" {
		t.Errorf("lost-answer record = %s with %q; want approved with rcpt-4", second[3].State, second[3].Receipt)
	}
	counts, _ := q.Counts()
	if counts[queue.StateUploading] != 0 || counts[queue.StateApproved] != 2 || counts[queue.StateRejected] != 1 || counts[queue.StateAccepted] != 1 {
		t.Errorf("Counts = %v; want 2 approved, 1 rejected, 1 accepted (the state index moved with the records)", counts)
	}
}

// TestApplyReviewsAtomic makes the transaction fail on its last review (a
// stored record that no longer decodes): nothing of the page is applied and
// the cursor stays where it was, so the next sync fetches the page again.
func TestApplyReviewsAtomic(t *testing.T) {
	dir := t.TempDir()
	q := openQueue(t, dir, queue.Options{Now: newClock().Now})
	a, _, _ := commit(t, q, testIDNumber)
	b, _, _ := commit(t, q, testIDNumber)
	mustDo(t, q, a.ID, opUp, opAccept)
	mustDo(t, q, b.ID, opUp, opAccept)
	if _, err := q.ApplyReviews(reviewsFeed, nil, "e.1"); err != nil {
		t.Fatal(err)
	}
	q.Close()
	u, _ := queue.ParseUUID(b.ID)
	editDB(t, dir+"/"+queue.DBFile, func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("records")).Put(u[:], []byte(`{"id":"broken"`))
	})
	q = openQueue(t, dir, queue.Options{Now: newClock().Now})

	page := []queue.Review{
		{RecordID: a.ID, Outcome: queue.OutcomeApproved, Receipt: "rcpt-1"},
		{RecordID: b.ID, Outcome: queue.OutcomeApproved, Receipt: "rcpt-1"},
	}
	if _, err := q.ApplyReviews(reviewsFeed, page, "e.2"); !errors.Is(err, queue.ErrCorrupt) {
		t.Fatalf("ApplyReviews over a corrupt record = %v; want ErrCorrupt", err)
	}
	if cur, _ := q.Cursor(reviewsFeed); cur != "e.1" {
		t.Errorf("Cursor = %q after a failed apply; want e.1", cur)
	}
	if got, _ := q.Get(a.ID); got.State != queue.StateAccepted {
		t.Errorf("first record = %s after a failed apply; want accepted (one transaction)", got.State)
	}
}

func TestCursor(t *testing.T) {
	dir := t.TempDir()
	q := openQueue(t, dir, queue.Options{})
	if c, err := q.Cursor(reviewsFeed); c != "" || err != nil {
		t.Fatalf("Cursor of a new queue = %q, %v; want empty", c, err)
	}
	if _, err := q.ApplyReviews("", nil, "x"); err == nil {
		t.Errorf("ApplyReviews with no feed name = nil; want an error")
	}
	if _, err := q.ApplyReviews(reviewsFeed, nil, "3f9c.17"); err != nil {
		t.Fatal(err)
	}
	if _, err := q.ApplyReviews("other", nil, "o.1"); err != nil {
		t.Fatal(err)
	}
	q.Close()
	q = openQueue(t, dir, queue.Options{})
	if c, _ := q.Cursor(reviewsFeed); c != "3f9c.17" {
		t.Errorf("Cursor after reopen = %q; want 3f9c.17", c)
	}
	if c, _ := q.Cursor("other"); c != "o.1" {
		t.Errorf("Cursor(other) = %q; want o.1", c)
	}
	if _, err := q.ApplyReviews(reviewsFeed, nil, ""); err != nil {
		t.Fatal(err)
	}
	if c, _ := q.Cursor(reviewsFeed); c != "" {
		t.Errorf("Cursor after storing empty = %q; want empty (a full reload)", c)
	}
}

func TestMarkExported(t *testing.T) {
	q := openQueue(t, t.TempDir(), queue.Options{Now: newClock().Now})
	a, _, _ := commit(t, q, testIDNumber)
	b, _, _ := commit(t, q, testIDNumber)
	mustDo(t, q, b.ID, opPark)
	at := time.Date(2026, 6, 2, 8, 0, 0, 0, time.FixedZone("CST", 8*3600))
	if err := q.MarkExported([]string{a.ID, b.ID}, at); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id   string
		want queue.State
	}{{a.ID, queue.StateQueued}, {b.ID, queue.StateParked}} {
		got, err := q.Get(c.id)
		if err != nil {
			t.Fatal(err)
		}
		if !got.ExportedAt.Equal(at) || got.State != c.want {
			t.Errorf("after MarkExported: ExportedAt %v, state %s; want %v, %s", got.ExportedAt, got.State, at, c.want)
		}
	}
	if next, _ := q.Next(queue.StateQueued, 0); len(next) != 1 || next[0].ID != a.ID {
		t.Errorf("Next(queued) = %v; want the exported record still queued (central has not accepted it)", recIDs(next))
	}
	c, _, _ := commit(t, q, testIDNumber)
	err := q.MarkExported([]string{c.ID, "0190d6a4-5b1e-7c3a-9f00-1a2b3c4d5e6f"}, at)
	if !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("MarkExported with an unknown ID = %v; want ErrNotFound", err)
	}
	if got, _ := q.Get(c.ID); !got.ExportedAt.IsZero() {
		t.Errorf("MarkExported failed but marked %s (want one transaction)", c.ID)
	}
	if !strings.Contains(mustJSON(t, q, a.ID), `"exportedAt"`) {
		t.Errorf("stored record lacks exportedAt")
	}
}

func mustDo(t *testing.T, q *queue.Queue, id string, ops ...op) {
	t.Helper()
	for _, o := range ops {
		if err := o.do(q, id); err != nil {
			t.Fatalf("%s(%s) = %v", o.name, id, err)
		}
	}
}

func mustJSON(t *testing.T, q *queue.Queue, id string) string {
	t.Helper()
	rs, err := q.List("", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.ID == id {
			b, _ := json.Marshal(r)
			return string(b)
		}
	}
	t.Fatalf("record %s not listed", id)
	return ""
}
