package uplink_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"kioskd/sync/wire"
)

// fakeCentral is a small central server faithful to docs/sync-protocol.md
// for one station: bearer token, content-addressed blobs verified by hash,
// records stored once under their ID with a byte-identical receipt for a
// repeat, the review and roster feeds with EPOCH.SEQ cursors and 410, and
// heartbeats. Hook lets a test answer a request itself (faults).
type fakeCentral struct {
	t       testing.TB
	srv     *httptest.Server
	inner   http.Handler // auth and the routes, without the hook
	token   string
	station string

	mu         sync.Mutex
	epoch      string
	blobs      map[string][]byte
	records    map[string]storedRecord
	seq        uint64
	reviews    []wire.Review // index i has sequence i+1
	roster     map[string]rosterEntry
	rosterSeq  uint64
	pageLimit  int
	puts       map[string]int // manifest PUTs received per record ID
	blobPuts   int
	heartbeats []wire.Heartbeat
	requests   []request
	hook       func(w http.ResponseWriter, r *http.Request) bool
}

type storedRecord struct {
	manifest wire.Manifest
	sum      string
	receipt  []byte
}

type rosterEntry struct {
	seq    uint64
	change wire.RosterChange
}

// request is one request as central saw it arrive.
type request struct {
	at     time.Time
	method string
	path   string
	query  string
}

func newCentral(t testing.TB) *fakeCentral {
	f := &fakeCentral{
		t: t, token: "tok-" + strconv.FormatInt(time.Now().UnixNano(), 36), station: "lib-1",
		epoch: "3f9c2a7d1e6b4c80", blobs: map[string][]byte{}, records: map[string]storedRecord{},
		roster: map[string]rosterEntry{}, puts: map[string]int{}, pageLimit: 1000,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/hello", f.hello)
	mux.HandleFunc("HEAD /v1/blobs/{name}", f.headBlob)
	mux.HandleFunc("PUT /v1/blobs/{name}", f.putBlob)
	mux.HandleFunc("PUT /v1/records/{id}", f.putRecord)
	mux.HandleFunc("GET /v1/reviews", f.getReviews)
	mux.HandleFunc("GET /v1/roster", f.getRoster)
	mux.HandleFunc("POST /v1/stations/{id}/heartbeat", f.postHeartbeat)
	f.inner = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+f.token {
			writeError(w, http.StatusUnauthorized, wire.CodeUnauthorized, "unknown token", nil)
			return
		}
		mux.ServeHTTP(w, r)
	})
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests = append(f.requests, request{at: time.Now(), method: r.Method, path: r.URL.Path, query: r.URL.RawQuery})
		hook := f.hook
		f.mu.Unlock()
		w.Header().Set("Date", time.Now().UTC().Format(http.TimeFormat))
		if hook != nil && hook(w, r) {
			return
		}
		f.inner.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// serve handles r as central normally would, past the hook (for hooks
// that add a fault around the real work).
func (f *fakeCentral) serve(w http.ResponseWriter, r *http.Request) { f.inner.ServeHTTP(w, r) }

func (f *fakeCentral) setHook(h func(w http.ResponseWriter, r *http.Request) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hook = h
}

// loseRecordAnswers makes central commit every manifest PUT but lose its
// answer (the connection drops), while lose (nil: always) says so.
func (f *fakeCentral) loseRecordAnswers(lose func() bool) {
	f.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if lose != nil && !lose() || r.Method != http.MethodPut || !strings.HasPrefix(r.URL.Path, "/v1/records/") {
			return false
		}
		f.serve(httptest.NewRecorder(), r) // committed, but the answer is lost
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
		return true
	})
}

func writeError(w http.ResponseWriter, status int, code, msg string, missing []string) {
	w.Header().Set("Content-Type", wire.ContentTypeJSON)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(wire.Error{Code: code, Message: msg, Missing: missing})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", wire.ContentTypeJSON)
	w.WriteHeader(status)
	w.Write(b)
}

func (f *fakeCentral) hello(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	writeJSON(w, http.StatusOK, wire.Hello{Protocol: wire.Version, StationID: f.station, ServerTime: time.Now().UTC(),
		ServerEpoch: f.epoch, MaxBlobBytes: wire.MaxBlobBytes})
}

func blobName(w http.ResponseWriter, r *http.Request) (string, bool) {
	sum, ok := strings.CutPrefix(r.PathValue("name"), "sha256:")
	if !ok || !wire.ValidSHA256(sum) {
		writeError(w, http.StatusBadRequest, wire.CodeBadRequest, "blob name", nil)
		return "", false
	}
	return sum, true
}

func (f *fakeCentral) headBlob(w http.ResponseWriter, r *http.Request) {
	sum, ok := blobName(w, r)
	if !ok {
		return
	}
	f.mu.Lock()
	b, held := f.blobs[sum]
	f.mu.Unlock()
	if !held {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
}

func (f *fakeCentral) putBlob(w http.ResponseWriter, r *http.Request) {
	sum, ok := blobName(w, r)
	if !ok {
		return
	}
	if r.ContentLength < 0 {
		writeError(w, http.StatusBadRequest, wire.CodeBadRequest, "Content-Length required", nil)
		return
	}
	if r.ContentLength > wire.MaxBlobBytes {
		writeError(w, http.StatusRequestEntityTooLarge, wire.CodeTooLarge, "blob over the limit", nil)
		return
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, wire.MaxBlobBytes+1))
	if err != nil {
		return
	}
	if wire.SHA256(b) != sum {
		writeError(w, http.StatusUnprocessableEntity, wire.CodeHashMismatch, "the bytes do not hash to the name", nil)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.blobPuts++
	if _, held := f.blobs[sum]; held {
		w.WriteHeader(http.StatusOK)
		return
	}
	f.blobs[sum] = b
	w.WriteHeader(http.StatusCreated)
}

func (f *fakeCentral) putRecord(w http.ResponseWriter, r *http.Request) {
	m, err := wire.DecodeManifest(r.Body)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, wire.CodeInvalid, err.Error(), nil)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.puts[m.RecordID]++
	switch {
	case r.PathValue("id") != m.RecordID:
		writeError(w, http.StatusBadRequest, wire.CodeBadRequest, "path and record_id differ", nil)
		return
	case m.StationID != f.station:
		writeError(w, http.StatusForbidden, wire.CodeForbidden, "another station's record", nil)
		return
	}
	var missing []string
	for _, b := range []wire.Blob{m.Photo, m.Original} {
		if _, held := f.blobs[b.SHA256]; !held {
			missing = append(missing, b.SHA256)
		}
	}
	if len(missing) > 0 {
		writeError(w, http.StatusPreconditionFailed, wire.CodeMissingBlobs, "upload these blobs first", missing)
		return
	}
	sum, err := m.SHA256()
	if err != nil {
		writeError(w, http.StatusInternalServerError, wire.CodeInternal, err.Error(), nil)
		return
	}
	if old, ok := f.records[m.RecordID]; ok {
		if old.sum != sum {
			writeError(w, http.StatusConflict, wire.CodeRecordConflict, "another manifest is stored under this ID", nil)
			return
		}
		w.Header().Set("Content-Type", wire.ContentTypeJSON)
		w.WriteHeader(http.StatusOK)
		w.Write(old.receipt)
		return
	}
	f.seq++
	rc := wire.Receipt{RecordID: m.RecordID, StationID: m.StationID, ServerSeq: f.seq,
		CommittedAt: time.Now().UTC(), ManifestSHA256: sum, ServerEpoch: f.epoch}
	f.records[m.RecordID] = storedRecord{manifest: m, sum: sum, receipt: []byte(rc.String())}
	w.Header().Set("Content-Type", wire.ContentTypeJSON)
	w.WriteHeader(http.StatusCreated)
	w.Write([]byte(rc.String()))
}

// since parses a feed cursor: 0 for "", ok false for 410.
func (f *fakeCentral) since(c string, newest uint64) (uint64, bool) {
	if c == "" {
		return 0, true
	}
	epoch, n, found := strings.Cut(c, ".")
	seq, err := strconv.ParseUint(n, 10, 64)
	if !found || epoch != f.epoch || err != nil || seq > newest {
		return 0, false
	}
	return seq, true
}

func (f *fakeCentral) getReviews(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	since, ok := f.since(r.URL.Query().Get("since"), uint64(len(f.reviews)))
	if !ok {
		writeError(w, http.StatusGone, wire.CodeCursorGone, "reload from an empty cursor", nil)
		return
	}
	end := min(len(f.reviews), int(since)+min(f.pageLimit, wire.MaxReviewPage))
	page := wire.ReviewPage{Reviews: slices.Clone(f.reviews[since:end]), More: end < len(f.reviews)}
	for i := range page.Reviews {
		page.Reviews[i].EventID = fmt.Sprintf("%s.%d", f.epoch, int(since)+i+1)
	}
	page.Next = fmt.Sprintf("%s.%d", f.epoch, end)
	if page.Reviews == nil {
		page.Reviews = []wire.Review{}
	}
	writeJSON(w, http.StatusOK, page)
}

func (f *fakeCentral) getRoster(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	since, ok := f.since(r.URL.Query().Get("since"), f.rosterSeq)
	if !ok {
		writeError(w, http.StatusGone, wire.CodeCursorGone, "reload from an empty cursor", nil)
		return
	}
	var after []rosterEntry
	for _, e := range f.roster {
		if e.seq > since {
			after = append(after, e)
		}
	}
	slices.SortFunc(after, func(a, b rosterEntry) int { return int(a.seq) - int(b.seq) })
	page := wire.RosterPage{Changes: []wire.RosterChange{}, Next: fmt.Sprintf("%s.%d", f.epoch, since)}
	limit := min(f.pageLimit, wire.MaxRosterPage)
	for i, e := range after {
		if i == limit {
			page.More = true
			break
		}
		page.Changes = append(page.Changes, e.change)
		page.Next = fmt.Sprintf("%s.%d", f.epoch, e.seq)
	}
	writeJSON(w, http.StatusOK, page)
}

func (f *fakeCentral) postHeartbeat(w http.ResponseWriter, r *http.Request) {
	hb, err := wire.DecodeHeartbeat(r.Body)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, wire.CodeInvalid, err.Error(), nil)
		return
	}
	if r.PathValue("id") != f.station || hb.StationID != f.station {
		writeError(w, http.StatusForbidden, wire.CodeForbidden, "another station", nil)
		return
	}
	f.mu.Lock()
	f.heartbeats = append(f.heartbeats, hb)
	f.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// review records an outcome for a stored record, as the admin endpoint does.
func (f *fakeCentral) review(id, outcome, reason string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rec, ok := f.records[id]
	if !ok {
		f.t.Fatalf("review of %s: central does not hold it", id)
	}
	var rc wire.Receipt
	if err := json.Unmarshal(rec.receipt, &rc); err != nil {
		f.t.Fatal(err)
	}
	f.reviews = append(f.reviews, wire.Review{RecordID: id, Outcome: outcome, Reason: reason,
		ReviewedAt: time.Now().UTC(), Receipt: rc})
}

// upsert and remove change central's roster; the feed keeps each student
// once, at their newest change.
func (f *fakeCentral) upsert(s wire.RosterStudent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rosterSeq++
	f.roster[s.IDNumber] = rosterEntry{seq: f.rosterSeq, change: wire.RosterChange{Op: wire.OpUpsert, Student: s}}
}

func (f *fakeCentral) remove(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rosterSeq++
	f.roster[id] = rosterEntry{seq: f.rosterSeq, change: wire.RosterChange{Op: wire.OpDelete, Student: wire.RosterStudent{IDNumber: id}}}
}

// newEpoch is a restore from backup: every cursor of the old epoch is 410.
func (f *fakeCentral) newEpoch(e string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.epoch = e
}

// requestsTo lists the requests whose method and path start match.
func (f *fakeCentral) requestsTo(method, pathPrefix string) []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []request
	for _, r := range f.requests {
		if r.method == method && strings.HasPrefix(r.path, pathPrefix) {
			out = append(out, r)
		}
	}
	return out
}

func (f *fakeCentral) allRequests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

func (f *fakeCentral) stored(id string) (storedRecord, int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.records[id]
	return r, f.puts[id], ok
}

func (f *fakeCentral) blob(sum string) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.blobs[sum]
	return bytes.Clone(b), ok
}
