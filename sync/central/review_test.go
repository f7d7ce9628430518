package central_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"kioskd/sync/central"
	"kioskd/sync/wire"
)

func (e *env) reviewFeed(station, since string) ([]wire.Review, string) {
	e.t.Helper()
	r := e.do(req{Method: "GET", Path: "/v1/reviews?since=" + url.QueryEscape(since), Token: e.tokens[station]})
	want(e.t, "review feed", r, http.StatusOK, "")
	p, err := wire.DecodeReviewPage(bytes.NewReader(r.Body))
	if err != nil {
		e.t.Fatalf("review page: %v (%s)", err, r.Body)
	}
	if p.More {
		e.t.Fatal("review page says more; the test never makes that many")
	}
	return p.Reviews, p.Next
}

func (e *env) adminReview(rq wire.ReviewRequest) resp {
	e.t.Helper()
	b, _ := json.Marshal(rq)
	return e.do(req{Method: "POST", Path: "/v1/admin/reviews", Token: e.srv.AdminToken(), Body: b})
}

func TestReviews(t *testing.T) {
	e := newEnv(t)
	// Students 1 and 2 are on central's roster.
	_, r := e.importRoster(rosterCSV(t, []int{1, 2}, nil, nil))
	want(t, "import", r, http.StatusOK, "")
	_, rosterCursor, _ := e.rosterFeed("lib-1", "", 0)

	mA, _ := e.record("lib-1", 1)
	rA := e.putManifest("lib-1", mA)
	want(t, "record A", rA, http.StatusCreated, "")
	mB, _ := e.record("lib-2", 2)
	want(t, "record B", e.putManifest("lib-2", mB), http.StatusCreated, "")
	_, cursorB := e.reviewFeed("lib-2", "")

	reason := "背景不均匀 / uneven background"
	r = e.adminReview(wire.ReviewRequest{RecordID: mA.RecordID, Outcome: wire.OutcomeRejected, Reason: reason})
	want(t, "reject A", r, http.StatusCreated, "")

	revs, cursorA := e.reviewFeed("lib-1", "")
	if len(revs) != 1 {
		t.Fatalf("A's feed: %+v; want one review", revs)
	}
	rv := revs[0]
	sum, _ := mA.SHA256()
	if rv.RecordID != mA.RecordID || rv.Outcome != wire.OutcomeRejected || rv.Reason != reason ||
		!rv.ReviewedAt.Equal(e.clock.Now()) || !rv.Receipt.Matches(&mA, sum) || rv.Receipt.String() != string(rA.Body) {
		t.Fatalf("review %+v; want A rejected with its receipt %s", rv, rA.Body)
	}
	if !strings.HasPrefix(rv.EventID, e.srv.Epoch()+".") {
		t.Errorf("event_id %q is not EPOCH.SEQ", rv.EventID)
	}
	if revs, next := e.reviewFeed("lib-2", cursorB); len(revs) != 0 || next != cursorA {
		t.Fatalf("B's feed holds %+v, next %s; want nothing and %s (past A's review)", revs, next, cursorA)
	}

	// Repeat: no-op. Other outcome: conflict. Unknown record: 404.
	r = e.adminReview(wire.ReviewRequest{RecordID: mA.RecordID, Outcome: wire.OutcomeRejected, Reason: "again"})
	want(t, "same outcome again", r, http.StatusOK, "")
	if revs, _ := e.reviewFeed("lib-1", ""); len(revs) != 1 || revs[0].Reason != reason {
		t.Fatalf("after a repeat A's feed is %+v; want the one first review", revs)
	}
	r = e.adminReview(wire.ReviewRequest{RecordID: mA.RecordID, Outcome: wire.OutcomeApproved})
	want(t, "other outcome", r, http.StatusConflict, wire.CodeRecordConflict)
	if _, err := e.srv.Review(wire.ReviewRequest{RecordID: mA.RecordID, Outcome: wire.OutcomeApproved}); !errors.Is(err, central.ErrReviewed) {
		t.Errorf("Review(other outcome) = %v; want ErrReviewed", err)
	}
	if _, err := e.srv.Review(wire.ReviewRequest{RecordID: recordID(t), Outcome: wire.OutcomeApproved}); !errors.Is(err, central.ErrNotFound) {
		t.Errorf("Review(unknown) = %v; want ErrNotFound", err)
	}

	// The admin page's form approves B.
	form := url.Values{"record_id": {mB.RecordID}, "outcome": {"approved"}}
	r = e.do(req{Method: "POST", Path: "/admin/review", Basic: e.srv.AdminToken(), Body: []byte(form.Encode()),
		Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": e.http.URL}})
	want(t, "approve B by form", r, http.StatusSeeOther, "")
	if loc := r.Header.Get("Location"); !strings.HasPrefix(loc, "/admin/") {
		t.Errorf("redirect to %q; want /admin/", loc)
	}
	if revs, _ := e.reviewFeed("lib-2", cursorB); len(revs) != 1 || revs[0].Outcome != wire.OutcomeApproved || revs[0].RecordID != mB.RecordID {
		t.Fatalf("B's feed after approval: %+v", revs)
	}
	if revs, _ := e.reviewFeed("lib-1", cursorA); len(revs) != 0 {
		t.Fatalf("A's feed shows B's review: %+v", revs)
	}

	// Both students' roster rows changed.
	delta, _, _ := e.rosterFeed("lib-1", rosterCursor, 0)
	got := byID(delta)
	if c := got[idNumber(t, 1)]; len(delta) != 2 || c.Student.Status != "rejected" || c.Student.Reason != reason || c.Student.Name != "学生1" {
		t.Fatalf("roster delta after reviews: %+v", delta)
	}
	if c := got[idNumber(t, 2)]; c.Student.Status != "approved" {
		t.Fatalf("student 2 after approval: %+v", c)
	}

	// Re-importing the same file keeps the review outcomes; a file that
	// changes a student's status overrides theirs.
	res, r := e.importRoster(rosterCSV(t, []int{1, 2}, nil, nil))
	if want(t, "re-import", r, http.StatusOK, ""); res.Unchanged != 2 {
		t.Fatalf("re-import %+v; want 2 unchanged", res)
	}
	full, _, _ := e.rosterFeed("lib-1", "", 0)
	if s := byID(full)[idNumber(t, 1)].Student; s.Status != "rejected" {
		t.Fatalf("after an unchanged re-import student 1 is %q; want rejected", s.Status)
	}
	_, r = e.importRoster(rosterCSV(t, []int{1, 2}, nil, map[int]string{1: "已采集"}))
	want(t, "import with a new status", r, http.StatusOK, "")
	full, _, _ = e.rosterFeed("lib-1", "", 0)
	if s := byID(full)[idNumber(t, 1)].Student; s.Status != "collected_online" || s.Reason != "" {
		t.Fatalf("after the file changed student 1's status: %+v; want collected_online", s)
	}
	if s := byID(full)[idNumber(t, 2)].Student; s.Status != "approved" {
		t.Fatalf("student 2 lost the approval: %+v", s)
	}

	// Records reports the outcomes.
	n := 0
	e.srv.Records(func(sr central.StoredRecord) error {
		if sr.Review == nil {
			t.Errorf("record %s without its review", sr.Manifest.RecordID)
		}
		n++
		return nil
	})
	if n != 2 {
		t.Fatalf("Records: %d; want 2", n)
	}
}
