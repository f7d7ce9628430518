package main

import (
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kioskd/sync/central"
)

// testCentral is a reference central server on loopback whose clock reads
// now, with stations "booth-1" and "booth-2"; it returns its URL and the
// two stations' token files.
func testCentral(t *testing.T, now time.Time) (url, token1, token2 string) {
	t.Helper()
	dir := t.TempDir()
	srv, err := central.Open(filepath.Join(dir, "central"), central.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
	})
	files := make([]string, 2)
	for i, id := range []string{"booth-1", "booth-2"} {
		tok, err := central.AddStation(filepath.Join(dir, "central"), id)
		if err != nil {
			t.Fatal(err)
		}
		files[i] = filepath.Join(dir, id+".token")
		if err := os.WriteFile(files[i], []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return ts.URL, files[0], files[1]
}

func TestDoctorCentral(t *testing.T) {
	url, tok1, tok2 := testCentral(t, today)
	wrong := filepath.Join(t.TempDir(), "wrong.token")
	os.WriteFile(wrong, []byte("bm90LWEtdG9rZW4tY2VudHJhbC1rbm93cy1hYm91dA0\n"), 0o600)
	loose := filepath.Join(t.TempDir(), "loose.token")
	os.WriteFile(loose, []byte("x\n"), 0o644)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()

	cases := []struct {
		name       string
		args       []string
		now        time.Time
		want, text string
	}{
		{"healthy", []string{"-central", url, "-central-token-file", tok1, "-station-id", "booth-1"}, today, "pass", "accepts the token"},
		{"wrong token", []string{"-central", url, "-central-token-file", wrong, "-station-id", "booth-1"}, today, "fail", "refuses this station's token"},
		{"another station's token", []string{"-central", url, "-central-token-file", tok2, "-station-id", "booth-1"}, today, "fail", "belongs to another station, booth-2"},
		{"unreachable", []string{"-central", closed, "-central-token-file", tok1, "-station-id", "booth-1"}, today, "fail", "central is unreachable"},
		{"token file readable by others", []string{"-central", url, "-central-token-file", loose, "-station-id", "booth-1"}, today, "fail", "invalid"},
		{"no token file", []string{"-central", url, "-station-id", "booth-1"}, today, "fail", "invalid"},
		{"clock off", []string{"-central", url, "-central-token-file", tok1, "-station-id", "booth-1"}, today.Add(10 * time.Minute), "warn", "far from central's"},
		{"not configured", nil, today, "skip", "no central configured"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, rows, out := runDoctor(t, append(baseArgs(t), c.args...), nil, c.now)
			r := rows["central"]
			if r.status != c.want || !strings.Contains(r.text, c.text) {
				t.Fatalf("central row = %s %q; want %s saying %q\n%s", r.status, r.text, c.want, c.text, out)
			}
			if wantCode := map[bool]int{true: 1, false: 0}[c.want == "fail"]; code != wantCode {
				t.Errorf("exit %d; want %d", code, wantCode)
			}
			if c.want == "fail" && !strings.Contains(r.text, "fix: ") {
				t.Errorf("a failed central row without a fix:\n%s", out)
			}
		})
	}
}
