package uplink_test

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kioskd/sync/uplink"
	"kioskd/sync/wire"
)

func writeFile(t *testing.T, name, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return path
}

func TestNewClientConfig(t *testing.T) {
	token := writeFile(t, "token", "abc_DEF-123\n", 0o600)
	cases := []struct {
		name    string
		cfg     uplink.Config
		wantErr string // "" for success
	}{
		{"https", uplink.Config{URL: "https://central.example.edu", TokenFile: token}, ""},
		{"https with a path", uplink.Config{URL: "https://example.edu/kiosk/", TokenFile: token}, ""},
		{"http loopback", uplink.Config{URL: "http://127.0.0.1:8080", TokenFile: token}, ""},
		{"http localhost", uplink.Config{URL: "http://localhost:8080", TokenFile: token}, ""},
		{"http ipv6 loopback", uplink.Config{URL: "http://[::1]:8080", TokenFile: token}, ""},
		{"http remote", uplink.Config{URL: "http://central.example.edu", TokenFile: token}, "loopback"},
		{"http LAN", uplink.Config{URL: "http://10.0.0.5", TokenFile: token}, "loopback"},
		{"ftp", uplink.Config{URL: "ftp://central.example.edu", TokenFile: token}, "scheme"},
		{"no URL", uplink.Config{TokenFile: token}, "missing"},
		{"user in URL", uplink.Config{URL: "https://u:p@central.example.edu", TokenFile: token}, "user"},
		{"query", uplink.Config{URL: "https://central.example.edu/?x=1", TokenFile: token}, "query"},
		{"no token file", uplink.Config{URL: "https://central.example.edu"}, "token file"},
		{"token missing", uplink.Config{URL: "https://c.example.edu", TokenFile: filepath.Join(t.TempDir(), "none")}, "no such file"},
		{"token readable", uplink.Config{URL: "https://c.example.edu", TokenFile: writeFile(t, "t", "abc", 0o644)}, "chmod 600"},
		{"token group", uplink.Config{URL: "https://c.example.edu", TokenFile: writeFile(t, "t", "abc", 0o640)}, "chmod 600"},
		{"token 0400", uplink.Config{URL: "https://c.example.edu", TokenFile: writeFile(t, "t", "abc", 0o400)}, ""},
		{"token empty", uplink.Config{URL: "https://c.example.edu", TokenFile: writeFile(t, "t", " \n", 0o600)}, "empty"},
		{"two tokens", uplink.Config{URL: "https://c.example.edu", TokenFile: writeFile(t, "t", "abc def", 0o600)}, "printable"},
		{"CA missing", uplink.Config{URL: "https://c.example.edu", TokenFile: token, CAFile: filepath.Join(t.TempDir(), "ca.pem")}, "CA file"},
		{"CA not PEM", uplink.Config{URL: "https://c.example.edu", TokenFile: token, CAFile: writeFile(t, "ca.pem", "hello", 0o644)}, "no PEM"},
		{"cert without key", uplink.Config{URL: "https://c.example.edu", TokenFile: token, CertFile: token}, "both"},
		{"key readable", uplink.Config{URL: "https://c.example.edu", TokenFile: token, CertFile: token, KeyFile: writeFile(t, "k", "x", 0o644)}, "chmod 600"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := uplink.NewClient(c.cfg)
			if c.cfg.URL == "https://c.example.edu" && c.cfg.CAFile == "" && c.cfg.CertFile == "" {
				if _, terr := uplink.ReadToken(c.cfg.TokenFile); (terr == nil) != (err == nil) {
					t.Errorf("ReadToken = %v but NewClient = %v; want the same verdict on the token file", terr, err)
				}
			}
			switch {
			case c.wantErr == "" && err != nil:
				t.Errorf("NewClient(%+v) = %v; want success", c.cfg, err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Errorf("NewClient(%+v) = %v; want an error about %q", c.cfg, err, c.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "abc") {
				t.Errorf("error %q shows the token", err)
			}
		})
	}
}

func TestHello(t *testing.T) {
	f := newCentral(t)
	h, err := f.client(t, 0).Hello(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if h.StationID != f.station || h.ServerEpoch != f.epoch || h.Protocol != wire.Version {
		t.Errorf("Hello = %+v", h)
	}

	wrong := writeFile(t, "token", "not-the-token", 0o600)
	c, err := uplink.NewClient(uplink.Config{URL: f.srv.URL, TokenFile: wrong})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Hello(context.Background())
	var se *uplink.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusUnauthorized || se.Code != wire.CodeUnauthorized {
		t.Errorf("Hello with a wrong token = %v; want a 401 unauthorized StatusError", err)
	}
}

// TestTLS: an https central whose certificate only the CA file vouches for.
func TestTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tls-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		writeJSON(w, http.StatusOK, wire.Hello{Protocol: wire.Version, StationID: "lib-1", ServerTime: time.Now()})
	}))
	t.Cleanup(srv.Close)
	token := writeFile(t, "token", "tls-token", 0o600)
	ca := writeFile(t, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})), 0o644)

	c, err := uplink.NewClient(uplink.Config{URL: srv.URL, TokenFile: token, CAFile: ca})
	if err != nil {
		t.Fatal(err)
	}
	if h, err := c.Hello(context.Background()); err != nil || h.StationID != "lib-1" {
		t.Errorf("Hello over TLS with the CA file = %+v, %v", h, err)
	}
	c, err = uplink.NewClient(uplink.Config{URL: srv.URL, TokenFile: token})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Hello(context.Background()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Hello without the CA file = %v; want a certificate error", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 6, 1, 9, 30, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{"1", time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"3600", time.Hour, true},
		{"3601", time.Hour, true},
		{"99999999999999999999999", time.Hour, true},
		{"Mon, 01 Jun 2026 09:30:05 GMT", 5 * time.Second, true},
		{"Monday, 01-Jun-26 09:31:00 GMT", time.Minute, true},
		{"Mon Jun  1 09:30:10 2026", 10 * time.Second, true},
		{"Mon, 01 Jun 2026 09:00:00 GMT", 0, true},
		{"Tue, 02 Jun 2026 09:30:00 GMT", time.Hour, true},
		{"", 0, false},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"5s", 0, false},
	}
	for _, c := range cases {
		got, ok := uplink.ParseRetryAfter(c.in, now)
		if got != c.want || ok != c.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestBackoff(t *testing.T) {
	const base, limit = time.Second, 5 * time.Minute
	for n := 1; n <= 70; n++ {
		ceil := min(limit, base<<min(n-1, 30))
		if got := uplink.Backoff(n, base, limit, func(max time.Duration) time.Duration { return max }); got != ceil {
			t.Errorf("Backoff(%d) at the ceiling = %v; want %v", n, got, ceil)
		}
		var sum time.Duration
		const draws = 200
		for range draws {
			d := uplink.Backoff(n, base, limit, nil)
			if d < 0 || d >= ceil {
				t.Fatalf("Backoff(%d) = %v; want in [0, %v)", n, d, ceil)
			}
			sum += d
		}
		// Full jitter: the mean is half the ceiling; 200 draws stay well
		// within a third of it.
		if mean := sum / draws; mean < ceil/6 || mean > ceil*5/6 {
			t.Errorf("Backoff(%d) mean %v; want about %v", n, mean, ceil/2)
		}
	}
}
