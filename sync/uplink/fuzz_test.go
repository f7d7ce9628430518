package uplink_test

import (
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"kioskd/sync/uplink"
)

// FuzzParseRetryAfter: any header value gives a wait in [0, 1 h], and a
// plain number of seconds up to an hour gives exactly that.
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "120", "Mon, 01 Jun 2026 09:30:05 GMT", "", "-1"} {
		f.Add(s)
	}
	now := time.Date(2026, 6, 1, 9, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := uplink.ParseRetryAfter(v, now)
		if d < 0 || d > uplink.MaxRetryAfter {
			t.Fatalf("ParseRetryAfter(%q) = %v; want within [0, %v]", v, d, uplink.MaxRetryAfter)
		}
		if !ok && d != 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v, false; want 0 when not understood", v, d)
		}
		trimmed := strings.TrimSpace(v)
		if n, err := time.ParseDuration(trimmed + "s"); err == nil && trimmed != "" && strings.Trim(trimmed, "0123456789") == "" && n <= time.Hour {
			if !ok || d != n {
				t.Fatalf("ParseRetryAfter(%q) = %v, %v; want %v", v, d, ok, n)
			}
		}
	})
}

// FuzzParseToken: an accepted token is one run of printable ASCII with no
// space, found in the file's bytes.
func FuzzParseToken(f *testing.F) {
	for _, s := range []string{"abc_DEF-123\n", "", "a b", "\x00tok", "tok\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := uplink.ParseToken(b)
		if err != nil {
			return
		}
		if tok == "" || !strings.Contains(string(b), tok) {
			t.Fatalf("ParseToken(%q) = %q; want a non-empty part of the input", b, tok)
		}
		for i := 0; i < len(tok); i++ {
			if tok[i] <= ' ' || tok[i] > '~' {
				t.Fatalf("ParseToken(%q) = %q holds byte %#x", b, tok, tok[i])
			}
		}
	})
}

// FuzzCheckURL: an accepted URL is https, or http on a loopback host, with
// no user, query or fragment and no trailing slash.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{"https://central.example.edu/", "http://127.0.0.1:8080", "http://example.edu", "ftp://x", "https://u@x/?q#f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := uplink.CheckURL(raw)
		if err != nil {
			return
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("CheckURL(%q) = %q, which does not parse: %v", raw, got, err)
		}
		if u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(got, "/") || u.Hostname() == "" {
			t.Fatalf("CheckURL(%q) = %q; want no user, query, fragment or trailing slash", raw, got)
		}
		switch u.Scheme {
		case "https":
		case "http":
			host := u.Hostname()
			if ip := net.ParseIP(host); !strings.EqualFold(host, "localhost") && (ip == nil || !ip.IsLoopback()) {
				t.Fatalf("CheckURL(%q) = %q: plain http to a host that is not loopback", raw, got)
			}
		default:
			t.Fatalf("CheckURL(%q) = %q: scheme %q", raw, got, u.Scheme)
		}
	})
}
