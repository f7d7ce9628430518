package central_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kioskd/sync/central"
	"kioskd/sync/wire"
)

func heartbeatBody(t *testing.T, station string) []byte {
	b, err := json.Marshal(wire.Heartbeat{StationID: station, Version: "test", SentAt: time.Now().UTC(),
		Queue: map[string]int{"queued": 2, "accepted": 5}, DiskFree: 1 << 30, Camera: "ok"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAuth(t *testing.T) {
	e := newEnv(t)
	a, b := e.tokens["lib-1"], e.tokens["lib-2"]
	mB, _ := e.record("lib-2", 1)
	manifestB, _ := mB.Canonical()
	review := []byte(`{"record_id":"` + mB.RecordID + `","outcome":"approved"}`)
	sameOrigin := e.http.URL
	form := "record_id=" + mB.RecordID + "&outcome=approved"
	formType := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}

	cases := []struct {
		name   string
		req    req
		status int
		code   string
	}{
		{"hello without a token", req{Method: "GET", Path: "/v1/hello"}, 401, wire.CodeUnauthorized},
		{"hello with an unknown token", req{Method: "GET", Path: "/v1/hello", Token: strings.Repeat("x", 43)}, 401, wire.CodeUnauthorized},
		{"hello with the admin token", req{Method: "GET", Path: "/v1/hello", Token: e.srv.AdminToken()}, 401, wire.CodeUnauthorized},
		{"blob without a token", req{Method: "PUT", Path: "/v1/blobs/sha256:" + wire.SHA256([]byte("x")), Body: []byte("x")}, 401, wire.CodeUnauthorized},
		{"roster feed without a token", req{Method: "GET", Path: "/v1/roster"}, 401, wire.CodeUnauthorized},
		{"A writes B's manifest", req{Method: "PUT", Path: "/v1/records/" + mB.RecordID, Token: a, Body: manifestB}, 403, wire.CodeForbidden},
		{"A posts B's heartbeat path", req{Method: "POST", Path: "/v1/stations/lib-2/heartbeat", Token: a, Body: heartbeatBody(t, "lib-2")}, 403, wire.CodeForbidden},
		{"A posts a heartbeat naming B", req{Method: "POST", Path: "/v1/stations/lib-1/heartbeat", Token: a, Body: heartbeatBody(t, "lib-2")}, 403, wire.CodeForbidden},
		{"A's own heartbeat", req{Method: "POST", Path: "/v1/stations/lib-1/heartbeat", Token: a, Body: heartbeatBody(t, "lib-1")}, 204, ""},
		{"admin review with a station token", req{Method: "POST", Path: "/v1/admin/reviews", Token: b, Body: review}, 403, wire.CodeForbidden},
		{"admin roster with a station token", req{Method: "POST", Path: "/v1/admin/roster", Token: a, Body: []byte("x")}, 403, wire.CodeForbidden},
		{"admin page with a station token", req{Method: "GET", Path: "/admin/", Token: a}, 403, wire.CodeForbidden},
		{"admin page without a token", req{Method: "GET", Path: "/admin/"}, 401, wire.CodeUnauthorized},
		{"admin page with a wrong password", req{Method: "GET", Path: "/admin/", Basic: "wrong"}, 401, wire.CodeUnauthorized},
		{"admin photo without a token", req{Method: "GET", Path: "/admin/photo/" + mB.RecordID}, 401, wire.CodeUnauthorized},
		{"admin page with Basic auth", req{Method: "GET", Path: "/admin/", Basic: e.srv.AdminToken()}, 200, ""},
		{"admin page with the Bearer admin token", req{Method: "GET", Path: "/admin/", Token: e.srv.AdminToken()}, 200, ""},
		{"admin form from a foreign Origin", req{Method: "POST", Path: "/admin/review", Basic: e.srv.AdminToken(), Body: []byte(form),
			Header: map[string]string{"Origin": "https://evil.example", "Content-Type": formType["Content-Type"]}}, 403, wire.CodeForbidden},
		{"admin form marked cross-site", req{Method: "POST", Path: "/admin/review", Basic: e.srv.AdminToken(), Body: []byte(form),
			Header: map[string]string{"Sec-Fetch-Site": "cross-site", "Content-Type": formType["Content-Type"]}}, 403, wire.CodeForbidden},
		{"admin API from a foreign Origin", req{Method: "POST", Path: "/v1/admin/reviews", Token: e.srv.AdminToken(), Body: review,
			Header: map[string]string{"Origin": "http://attacker.test"}}, 403, wire.CodeForbidden},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(c.req)
			want(t, c.name, r, c.status, c.code)
			if c.status == 401 && strings.HasPrefix(c.req.Path, "/admin/") && !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), `Basic realm="kioskd central"`) {
				t.Errorf("WWW-Authenticate = %q; want a Basic challenge", r.Header.Get("WWW-Authenticate"))
			}
		})
	}

	// Nothing refused above was stored: B's record is still not at central.
	if want(t, "B's own manifest", e.putManifest("lib-2", mB), http.StatusCreated, ""); t.Failed() {
		return
	}
	// The same-origin form is taken.
	r := e.do(req{Method: "POST", Path: "/admin/review", Basic: e.srv.AdminToken(), Body: []byte(form),
		Header: map[string]string{"Origin": sameOrigin, "Content-Type": formType["Content-Type"]}})
	want(t, "same-origin admin form", r, http.StatusSeeOther, "")
}

func TestHello(t *testing.T) {
	e := newEnv(t)
	r := e.do(req{Method: "GET", Path: "/v1/hello", Token: e.tokens["lib-2"]})
	want(t, "hello", r, http.StatusOK, "")
	h, err := wire.DecodeHello(strings.NewReader(string(r.Body)))
	if err != nil {
		t.Fatal(err)
	}
	if h.StationID != "lib-2" || h.ServerEpoch != e.srv.Epoch() || !h.ServerTime.Equal(e.clock.Now()) || h.MaxBlobBytes != wire.MaxBlobBytes {
		t.Fatalf("hello = %+v", h)
	}
	if r.Header.Get("Date") == "" {
		t.Error("no Date header")
	}
}

func TestAddStation(t *testing.T) {
	e := newEnv(t)
	if _, err := central.AddStation(e.dir, "lib-1"); err == nil {
		t.Error("AddStation(lib-1) again: no error")
	}
	for _, bad := range []string{"", "-x", "a b", "../x", strings.Repeat("a", 65), "站"} {
		if _, err := central.AddStation(e.dir, bad); err == nil {
			t.Errorf("AddStation(%q): no error", bad)
		}
	}
	path := filepath.Join(e.dir, central.StationsFile)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("stations file mode %04o; want 0600", st.Mode().Perm())
	}
	// A hand edit without a final newline, then a new station while the
	// server runs: the new token works without a restart.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("# lib-9 retired " + time.Now().Format(time.DateOnly))
	f.Close()
	tok, err := central.AddStation(e.dir, "lib-3")
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) != 43 {
		t.Errorf("token %d characters; want 43", len(tok))
	}
	r := e.do(req{Method: "GET", Path: "/v1/hello", Token: tok})
	want(t, "hello from a station added while running", r, http.StatusOK, "")
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), tok) {
		t.Error("the stations file holds the token itself")
	}
	stations, err := e.srv.Stations()
	if err != nil || len(stations) != 3 {
		t.Fatalf("Stations() = %v, %v; want 3", stations, err)
	}
	// A broken file keeps the stations read before, and refuses Open.
	os.WriteFile(path, append(data, "garbage line\n"...), 0o600)
	want(t, "hello after the file broke", e.do(req{Method: "GET", Path: "/v1/hello", Token: tok}), http.StatusOK, "")
	e.close()
	if _, err := central.Open(e.dir, central.Options{}); err == nil {
		t.Fatal("Open with a malformed stations file: no error")
	}
}

func TestOpenLocked(t *testing.T) {
	e := newEnv(t)
	start := time.Now()
	_, err := central.Open(e.dir, central.Options{Timeout: 100 * time.Millisecond})
	if !errors.Is(err, central.ErrLocked) {
		t.Fatalf("second Open = %v; want ErrLocked", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("second Open took %s", time.Since(start))
	}
}

func TestAdminTokenFile(t *testing.T) {
	dir := t.TempDir()
	srv, err := central.Open(dir, central.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tok := srv.AdminToken()
	srv.Close()
	path := filepath.Join(dir, central.AdminTokenFile)
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("admin.token: %v, mode %v; want 0600", err, st.Mode())
	}
	srv, err = central.Open(dir, central.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if srv.AdminToken() != tok {
		t.Error("the admin token changed across a reopen")
	}
	srv.Close()
	os.Chmod(path, 0o644)
	if _, err := central.Open(dir, central.Options{}); err == nil {
		t.Error("Open with a world-readable admin.token: no error")
	}
}
