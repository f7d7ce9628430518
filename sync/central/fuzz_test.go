package central_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"kioskd/sync/central"
	"kioskd/sync/wire"
)

// Seed corpora are in testdata/fuzz/<target>.

func FuzzParseCursor(f *testing.F) {
	f.Fuzz(func(t *testing.T, c string) {
		epoch, seq, err := central.ParseCursor(c)
		if err != nil {
			return
		}
		if c == "" {
			if epoch != "" || seq != 0 {
				t.Fatalf("ParseCursor(\"\") = %q, %d", epoch, seq)
			}
			return
		}
		// A cursor that parses is exactly the one central would write.
		if back := epoch + "." + strconv.FormatUint(seq, 10); back != c {
			t.Fatalf("ParseCursor(%q) = %q, %d, which formats as %q", c, epoch, seq, back)
		}
	})
}

func FuzzParseStations(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		ids, err := central.ParseStations(bytes.NewReader(b))
		if err != nil {
			if bytes.Contains([]byte(err.Error()), b) && len(b) > 8 {
				t.Fatalf("the error quotes the file: %v", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, id := range ids {
			if !wire.ValidStationID(id) || seen[id] {
				t.Fatalf("ParseStations gave %q (valid %v, repeated %v)", id, wire.ValidStationID(id), seen[id])
			}
			seen[id] = true
		}
	})
}

func FuzzParseReviewForm(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		rq, err := central.ParseReviewForm(v)
		if err != nil {
			return
		}
		if !wire.ValidRecordID(rq.RecordID) || (rq.Outcome != wire.OutcomeApproved && rq.Outcome != wire.OutcomeRejected) ||
			len(rq.Reason) > 512 || !utf8.ValidString(rq.Reason) || rq.Reason != strings.TrimSpace(rq.Reason) ||
			(rq.Outcome == wire.OutcomeRejected && rq.Reason == "") {
			t.Fatalf("ParseReviewForm(%q) accepted %+v", raw, rq)
		}
	})
}

// FuzzHandler sends arbitrary requests with a station's token (or the
// admin's) to the whole handler: never a 5xx, never a panic.
func FuzzHandler(f *testing.F) {
	dir := f.TempDir()
	srv, err := central.Open(dir, central.Options{MaxBlobBytes: 1 << 16})
	if err != nil {
		f.Fatal(err)
	}
	defer srv.Close()
	tok, err := central.AddStation(dir, "lib-1")
	if err != nil {
		f.Fatal(err)
	}
	h := srv.Handler()
	f.Fuzz(func(t *testing.T, method, target string, admin bool, body []byte) {
		u, err := url.ParseRequestURI(target)
		if err != nil || !validMethod(method) {
			return
		}
		r := &http.Request{
			Method: method, URL: u, RequestURI: target, Host: "central.test",
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header:        http.Header{"Authorization": {"Bearer " + tok}},
			Body:          io.NopCloser(bytes.NewReader(body)),
			ContentLength: int64(len(body)),
		}
		if admin {
			r.Header.Set("Authorization", "Bearer "+srv.AdminToken())
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%s %s: %d %s", method, target, w.Code, w.Body)
		}
	})
}

func validMethod(m string) bool {
	if m == "" || len(m) > 16 {
		return false
	}
	for _, c := range m {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}
