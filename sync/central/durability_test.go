package central_test

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"kioskd/sync/central"
	"kioskd/sync/wire"
)

// TestReopen closes the server and opens it again: records, receipts,
// reviews, the epoch and every cursor survive; temp files do not.
func TestReopen(t *testing.T) {
	e := newEnv(t)
	_, r := e.importRoster(rosterCSV(t, []int{1, 2, 3}, nil, nil))
	want(t, "import", r, http.StatusOK, "")
	m, photo := e.record("lib-1", 1)
	first := e.putManifest("lib-1", m)
	want(t, "record", first, http.StatusCreated, "")
	want(t, "review", e.adminReview(wire.ReviewRequest{RecordID: m.RecordID, Outcome: wire.OutcomeApproved}), http.StatusCreated, "")
	want(t, "heartbeat", e.do(req{Method: "POST", Path: "/v1/stations/lib-1/heartbeat", Token: e.tokens["lib-1"], Body: heartbeatBody(t, "lib-1")}), http.StatusNoContent, "")
	_, rosterCursor, _ := e.rosterFeed("lib-1", "", 0)
	_, reviewCursor := e.reviewFeed("lib-1", "")
	epoch := e.srv.Epoch()

	e.close()
	junk := filepath.Join(e.dir, central.BlobDir, ".tmp-12345")
	if err := os.WriteFile(junk, []byte("half a blob"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(86400e9)
	e.open()

	if _, err := os.Stat(junk); !os.IsNotExist(err) {
		t.Errorf("temp file left after Open: %v", err)
	}
	if e.srv.Epoch() != epoch {
		t.Fatalf("epoch %s after reopen; want %s", e.srv.Epoch(), epoch)
	}
	again := e.putManifest("lib-1", m)
	want(t, "record after reopen", again, http.StatusOK, "")
	if !bytes.Equal(again.Body, first.Body) {
		t.Fatalf("receipt after reopen\n%s\nwant\n%s", again.Body, first.Body)
	}
	if got, next, _ := e.rosterFeed("lib-1", rosterCursor, 0); len(got) != 0 || next != rosterCursor {
		t.Fatalf("roster feed at the old cursor: %d changes, next %s; want none, %s", len(got), next, rosterCursor)
	}
	if got, next := e.reviewFeed("lib-1", reviewCursor); len(got) != 0 || next != reviewCursor {
		t.Fatalf("review feed at the old cursor: %+v, next %s", got, next)
	}
	if revs, _ := e.reviewFeed("lib-1", ""); len(revs) != 1 || revs[0].Receipt.String() != string(first.Body) {
		t.Fatalf("review after reopen: %+v", revs)
	}
	if got, err := e.srv.Blob(m.Photo.SHA256); err != nil || !bytes.Equal(got, photo) {
		t.Fatalf("photo after reopen: %v", err)
	}
	stations, err := e.srv.Stations()
	if err != nil || len(stations) != 2 || stations[0].ID != "lib-1" || stations[0].Heartbeat.Queue["accepted"] != 5 {
		t.Fatalf("Stations after reopen: %+v, %v", stations, err)
	}
	// New records continue the sequence.
	m2, _ := e.record("lib-2", 2)
	r = e.putManifest("lib-2", m2)
	want(t, "second record", r, http.StatusCreated, "")
	rc, _ := wire.DecodeReceipt(bytes.NewReader(r.Body))
	if rc.ServerSeq != 2 {
		t.Fatalf("server_seq %d after reopen; want 2", rc.ServerSeq)
	}
}

// TestNewDatabaseNewEpoch: a fresh folder is a new epoch, and the old
// cursors are gone there.
func TestNewDatabaseNewEpoch(t *testing.T) {
	a := newEnv(t)
	b := newEnv(t)
	if a.srv.Epoch() == b.srv.Epoch() {
		t.Fatal("two databases share an epoch")
	}
	_, cursor, _ := a.rosterFeed("lib-1", "", 0)
	r := b.do(req{Method: "GET", Path: "/v1/roster?since=" + cursor, Token: b.tokens["lib-1"]})
	want(t, "another server's cursor", r, http.StatusGone, wire.CodeCursorGone)
}
