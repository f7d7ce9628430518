package central_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"kioskd/kiosk/queue"
	"kioskd/kiosk/roster"
	"kioskd/sync/central"
	"kioskd/sync/wire"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 6, 1, 9, 30, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a central server on a temp folder behind a real HTTP server,
// with stations lib-1 and lib-2.
type env struct {
	t      *testing.T
	dir    string
	srv    *central.Server
	http   *httptest.Server
	clock  *clock
	tokens map[string]string // station → token
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), clock: newClock(), tokens: map[string]string{}}
	e.open()
	for _, id := range []string{"lib-1", "lib-2"} {
		tok, err := central.AddStation(e.dir, id)
		if err != nil {
			t.Fatalf("AddStation(%s): %v", id, err)
		}
		e.tokens[id] = tok
	}
	return e
}

// open opens the server on e.dir and serves it.
func (e *env) open() {
	e.t.Helper()
	srv, err := central.Open(e.dir, central.Options{Now: e.clock.Now, Timeout: 200 * time.Millisecond})
	if err != nil {
		e.t.Fatalf("Open: %v", err)
	}
	e.srv = srv
	e.http = httptest.NewServer(srv.Handler())
	e.t.Cleanup(e.close)
}

// close stops serving and closes the server; a second call does nothing.
func (e *env) close() {
	if e.srv == nil {
		return
	}
	e.http.Close()
	if err := e.srv.Close(); err != nil {
		e.t.Errorf("Close: %v", err)
	}
	e.srv = nil
}

func (e *env) reopen() {
	e.t.Helper()
	e.close()
	e.open()
}

// resp is an answer, read whole.
type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r resp) err() wire.Error {
	var we wire.Error
	json.Unmarshal(r.Body, &we)
	return we
}

// req describes a request; Token is sent as a Bearer token.
type req struct {
	Method, Path, Token string
	Body                []byte
	Header              map[string]string
	Basic               string // the admin password for Basic auth
	Chunked             bool   // send the body without Content-Length
}

func (e *env) do(rq req) resp {
	e.t.Helper()
	var body io.Reader
	if rq.Body != nil {
		body = bytes.NewReader(rq.Body)
		if rq.Chunked {
			body = io.MultiReader(bytes.NewReader(rq.Body)) // hides the length
		}
	}
	r, err := http.NewRequest(rq.Method, e.http.URL+rq.Path, body)
	if err != nil {
		e.t.Fatalf("%s %s: %v", rq.Method, rq.Path, err)
	}
	if rq.Token != "" {
		r.Header.Set("Authorization", "Bearer "+rq.Token)
	}
	if rq.Basic != "" {
		r.SetBasicAuth("admin", rq.Basic)
	}
	for k, v := range rq.Header {
		r.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(r)
	if err != nil {
		e.t.Fatalf("%s %s: %v", rq.Method, rq.Path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", rq.Method, rq.Path, err)
	}
	return resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

// want fails the test unless r has status (and, for errors, code).
func want(t *testing.T, what string, r resp, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: status %d (%s); want %d", what, r.Status, r.Body, status)
	}
	if code != "" {
		if got := r.err(); got.Code != code {
			t.Fatalf("%s: code %q (%s); want %q", what, got.Code, r.Body, code)
		}
		if ct := r.Header.Get("Content-Type"); ct != wire.ContentTypeJSON {
			t.Fatalf("%s: Content-Type %q; want %q", what, ct, wire.ContentTypeJSON)
		}
	}
}

// putBlob uploads b and returns its name.
func (e *env) putBlob(station string, b []byte) string {
	e.t.Helper()
	sum := wire.SHA256(b)
	r := e.do(req{Method: "PUT", Path: "/v1/blobs/sha256:" + sum, Token: e.tokens[station], Body: b,
		Header: map[string]string{"Content-Type": wire.ContentTypeBlob}})
	if r.Status != http.StatusCreated && r.Status != http.StatusOK {
		e.t.Fatalf("PUT blob: %d %s", r.Status, r.Body)
	}
	return sum
}

func (e *env) putManifest(station string, m wire.Manifest) resp {
	e.t.Helper()
	b, err := m.Canonical()
	if err != nil {
		e.t.Fatal(err)
	}
	return e.do(req{Method: "PUT", Path: "/v1/records/" + m.RecordID, Token: e.tokens[station], Body: b,
		Header: map[string]string{"Content-Type": wire.ContentTypeJSON}})
}

var (
	idsMu sync.Mutex
	ids   queue.UUIDGen
)

// recordID makes a new version 7 UUID.
func recordID(t testing.TB) string {
	idsMu.Lock()
	defer idsMu.Unlock()
	u, err := ids.New(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return u.String()
}

// idNumber makes the i-th synthetic ID number, valid under GB 11643.
func idNumber(t testing.TB, i int) string {
	day := time.Date(2003, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i/1000)
	first := fmt.Sprintf("330106%s%03d", day.Format("20060102"), i%1000)
	id := first + string(roster.CheckDigit(first))
	if _, err := roster.CheckIDNumber(id); err != nil {
		t.Fatalf("synthetic ID number %d: %v", i, err)
	}
	return id
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// record uploads a photo and an original for station and returns a
// manifest naming them, of student i.
func (e *env) record(station string, student int) (wire.Manifest, []byte) {
	e.t.Helper()
	photo := append([]byte("\xff\xd8fake-jpeg"), randomBytes(e.t, 200)...)
	orig := randomBytes(e.t, 1000)
	return manifestFor(e.t, station, student, photo, orig, e.putBlob(station, photo), e.putBlob(station, orig)), photo
}

func manifestFor(t testing.TB, station string, student int, photo, orig []byte, photoSum, origSum string) wire.Manifest {
	return wire.Manifest{
		Schema:       wire.ManifestSchema,
		RecordID:     recordID(t),
		StationID:    station,
		CapturedAt:   time.Date(2026, 6, 1, 1, 30, 12, 345e6, time.UTC),
		Operator:     "op07",
		Student:      wire.Student{IDNumber: idNumber(t, student), Name: fmt.Sprintf("学生%d", student)},
		Spec:         "chsi-graduation",
		Background:   "replace",
		Fee:          wire.Fee{Yuan: 30, Method: "wechat"},
		Consent:      wire.Consent{Version: "2026-05", At: time.Date(2026, 6, 1, 1, 29, 0, 0, time.UTC)},
		Measurements: json.RawMessage(`{"eye_line":250}`),
		Photo:        wire.Blob{SHA256: photoSum, Size: int64(len(photo))},
		Original:     wire.Blob{SHA256: origSum, Size: int64(len(orig))},
	}
}

// rosterCSV is a roster file of students with the given indexes; names
// maps an index to a name other than the default.
func rosterCSV(t testing.TB, students []int, names map[int]string, status map[int]string) []byte {
	var b strings.Builder
	b.WriteString("身份证号,姓名,学号,学校,专业,毕业年份,状态\n")
	for _, i := range students {
		name := fmt.Sprintf("学生%d", i)
		if n, ok := names[i]; ok {
			name = n
		}
		fmt.Fprintf(&b, "%s,%s,S%05d,示范大学,计算机,2026,%s\n", idNumber(t, i), name, i, status[i])
	}
	return []byte(b.String())
}
