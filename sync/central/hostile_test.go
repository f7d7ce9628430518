package central_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"kioskd/sync/wire"
)

// TestHostileInput sends what a broken or hostile client might: every
// answer is the expected 4xx, a JSON error, never a 5xx.
func TestHostileInput(t *testing.T) {
	e := newEnv(t)
	tok := e.tokens["lib-1"]
	m, _ := e.record("lib-1", 1)
	good, _ := m.Canonical()
	id := m.RecordID
	epoch := e.srv.Epoch()
	sum := wire.SHA256([]byte("x"))
	withField := bytes.Replace(good, []byte(`{"schema":1`), []byte(`{"schema":1,"admin":true`), 1)
	badUTF8 := bytes.Replace(good, []byte("学生1"), []byte("\xff\xfe"), 1)
	huge := append(bytes.Repeat([]byte(" "), wire.MaxManifestBytes), good...)

	cases := []struct {
		name   string
		req    req
		status int
		code   string
	}{
		{"manifest over 1 MiB", req{Method: "PUT", Path: "/v1/records/" + id, Body: huge}, 413, wire.CodeTooLarge},
		{"heartbeat over 64 KiB", req{Method: "POST", Path: "/v1/stations/lib-1/heartbeat", Body: bytes.Repeat([]byte("{"), wire.MaxHeartbeatBytes+1)}, 413, wire.CodeTooLarge},
		{"blob over the limit", req{Method: "PUT", Path: "/v1/blobs/sha256:" + sum, Header: map[string]string{"Content-Length": "40000000"}, Body: []byte("x")}, 0, ""},
		{"blob without Content-Length", req{Method: "PUT", Path: "/v1/blobs/sha256:" + sum, Body: []byte("x"), Chunked: true}, 400, wire.CodeBadRequest},
		{"manifest not JSON", req{Method: "PUT", Path: "/v1/records/" + id, Body: []byte("{not json")}, 422, wire.CodeInvalid},
		{"manifest empty", req{Method: "PUT", Path: "/v1/records/" + id, Body: []byte{}}, 422, wire.CodeInvalid},
		{"manifest with an unknown field", req{Method: "PUT", Path: "/v1/records/" + id, Body: withField}, 422, wire.CodeInvalid},
		{"manifest with invalid UTF-8", req{Method: "PUT", Path: "/v1/records/" + id, Body: badUTF8}, 422, wire.CodeInvalid},
		{"manifest with trailing data", req{Method: "PUT", Path: "/v1/records/" + id, Body: append(append([]byte{}, good...), "{}"...)}, 422, wire.CodeInvalid},
		{"manifest as an array", req{Method: "PUT", Path: "/v1/records/" + id, Body: []byte("[1,2]")}, 422, wire.CodeInvalid},
		{"record ID not a UUID", req{Method: "PUT", Path: "/v1/records/12345", Body: good}, 400, wire.CodeBadRequest},
		{"record ID upper case", req{Method: "PUT", Path: "/v1/records/" + strings.ToUpper(id), Body: good}, 400, wire.CodeBadRequest},
		{"blob name traversal", req{Method: "PUT", Path: "/v1/blobs/sha256:../../x", Body: []byte("x")}, 400, wire.CodeBadRequest},
		{"blob name escaped traversal", req{Method: "PUT", Path: "/v1/blobs/%2e%2e/%2e%2e/central.db", Body: []byte("x")}, 400, wire.CodeBadRequest},
		{"blob name escaped slash", req{Method: "PUT", Path: "/v1/blobs/sha256:%2e%2e%2fcentral.db", Body: []byte("x")}, 400, wire.CodeBadRequest},
		{"blob name HEAD traversal", req{Method: "HEAD", Path: "/v1/blobs/sha256:..%2f..%2fadmin.token"}, 400, ""},
		{"blob name without prefix", req{Method: "PUT", Path: "/v1/blobs/" + sum, Body: []byte("x")}, 400, wire.CodeBadRequest},
		{"blob name upper-case hex", req{Method: "PUT", Path: "/v1/blobs/sha256:" + strings.ToUpper(sum), Body: []byte("x")}, 400, wire.CodeBadRequest},
		{"blob name short", req{Method: "PUT", Path: "/v1/blobs/sha256:abc", Body: []byte("x")}, 400, wire.CodeBadRequest},
		{"double slash", req{Method: "GET", Path: "/v1//hello"}, 400, wire.CodeBadRequest},
		{"cursor garbage", req{Method: "GET", Path: "/v1/roster?since=abc"}, 400, wire.CodeBadRequest},
		{"cursor without seq", req{Method: "GET", Path: "/v1/roster?since=" + epoch + "."}, 400, wire.CodeBadRequest},
		{"cursor with a leading zero", req{Method: "GET", Path: "/v1/roster?since=" + epoch + ".00"}, 400, wire.CodeBadRequest},
		{"cursor negative", req{Method: "GET", Path: "/v1/reviews?since=" + epoch + ".-1"}, 400, wire.CodeBadRequest},
		{"cursor seq overflow", req{Method: "GET", Path: "/v1/roster?since=" + epoch + ".99999999999999999999999"}, 400, wire.CodeBadRequest},
		{"cursor over 128 bytes", req{Method: "GET", Path: "/v1/roster?since=" + strings.Repeat("a", 129)}, 400, wire.CodeBadRequest},
		{"cursor with a control byte", req{Method: "GET", Path: "/v1/roster?since=%00"}, 400, wire.CodeBadRequest},
		{"cursor of another epoch", req{Method: "GET", Path: "/v1/roster?since=0123456789abcdef.0"}, 410, wire.CodeCursorGone},
		{"cursor past the end", req{Method: "GET", Path: "/v1/reviews?since=" + epoch + ".5"}, 410, wire.CodeCursorGone},
		{"cursor given twice", req{Method: "GET", Path: "/v1/roster?since=&since="}, 400, wire.CodeBadRequest},
		{"query with a bad escape", req{Method: "GET", Path: "/v1/roster?since=%zz"}, 400, wire.CodeBadRequest},
		{"limit zero", req{Method: "GET", Path: "/v1/roster?limit=0"}, 400, wire.CodeBadRequest},
		{"limit negative", req{Method: "GET", Path: "/v1/roster?limit=-5"}, 400, wire.CodeBadRequest},
		{"limit not a number", req{Method: "GET", Path: "/v1/reviews?limit=ten"}, 400, wire.CodeBadRequest},
		{"limit huge", req{Method: "GET", Path: "/v1/roster?limit=99999999999999999999999999"}, 200, ""},
		{"limit above the maximum", req{Method: "GET", Path: "/v1/reviews?limit=1000000"}, 200, ""},
		{"heartbeat not JSON", req{Method: "POST", Path: "/v1/stations/lib-1/heartbeat", Body: []byte("null null")}, 422, wire.CodeInvalid},
		{"heartbeat with an unknown field", req{Method: "POST", Path: "/v1/stations/lib-1/heartbeat", Body: []byte(`{"station_id":"lib-1","gps":[1,2]}`)}, 422, wire.CodeInvalid},
		{"heartbeat negative count", req{Method: "POST", Path: "/v1/stations/lib-1/heartbeat", Body: []byte(`{"station_id":"lib-1","queue":{"queued":-1}}`)}, 422, wire.CodeInvalid},
		{"GET a blob", req{Method: "GET", Path: "/v1/blobs/sha256:" + sum}, 405, wire.CodeMethod},
		{"DELETE a record", req{Method: "DELETE", Path: "/v1/records/" + id}, 405, wire.CodeMethod},
		{"POST hello", req{Method: "POST", Path: "/v1/hello", Body: []byte("{}")}, 405, wire.CodeMethod},
		{"PUT the roster feed", req{Method: "PUT", Path: "/v1/roster", Body: []byte("{}")}, 405, wire.CodeMethod},
		{"unknown route", req{Method: "GET", Path: "/v1/nothing"}, 404, wire.CodeNotFound},
		{"unknown version", req{Method: "GET", Path: "/v2/hello"}, 404, wire.CodeNotFound},
		{"root", req{Method: "GET", Path: "/"}, 404, wire.CodeNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.req.Token = tok
			if c.name == "blob over the limit" {
				// A client that declares 40 MB: refused before any byte is read.
				r, err := http.NewRequest("PUT", e.http.URL+c.req.Path, strings.NewReader(strings.Repeat("x", 40_000_000)))
				if err != nil {
					t.Fatal(err)
				}
				r.Header.Set("Authorization", "Bearer "+tok)
				res, err := http.DefaultClient.Do(r)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != http.StatusRequestEntityTooLarge {
					t.Fatalf("status %d; want 413", res.StatusCode)
				}
				return
			}
			r := e.do(c.req)
			if r.Status >= 500 {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			want(t, c.name, r, c.status, c.code)
			if r.Status == http.StatusMethodNotAllowed && r.Header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
	// None of it stored anything.
	want(t, "the real manifest afterwards", e.putManifest("lib-1", m), http.StatusCreated, "")
}

func TestAdminHostileInput(t *testing.T) {
	e := newEnv(t)
	admin := e.srv.AdminToken()
	m, _ := e.record("lib-1", 1)
	want(t, "manifest", e.putManifest("lib-1", m), http.StatusCreated, "")
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	cases := []struct {
		name   string
		req    req
		status int
	}{
		{"review not JSON", req{Method: "POST", Path: "/v1/admin/reviews", Body: []byte("approve it")}, 422},
		{"review unknown field", req{Method: "POST", Path: "/v1/admin/reviews", Body: []byte(`{"record_id":"` + m.RecordID + `","outcome":"approved","by":"x"}`)}, 422},
		{"review bad outcome", req{Method: "POST", Path: "/v1/admin/reviews", Body: []byte(`{"record_id":"` + m.RecordID + `","outcome":"maybe"}`)}, 422},
		{"rejection without reason", req{Method: "POST", Path: "/v1/admin/reviews", Body: []byte(`{"record_id":"` + m.RecordID + `","outcome":"rejected","reason":"  "}`)}, 422},
		{"review of an unknown record", req{Method: "POST", Path: "/v1/admin/reviews", Body: []byte(`{"record_id":"` + recordID(t) + `","outcome":"approved"}`)}, 404},
		{"review over 16 KiB", req{Method: "POST", Path: "/v1/admin/reviews", Body: bytes.Repeat([]byte(" "), wire.MaxReviewBytes+1)}, 413},
		{"form review twice the field", req{Method: "POST", Path: "/admin/review", Header: form, Body: []byte("record_id=" + m.RecordID + "&outcome=approved&outcome=rejected")}, 422},
		{"form review bad escape", req{Method: "POST", Path: "/admin/review", Header: form, Body: []byte("record_id=%zz")}, 400},
		{"form review invalid UTF-8 reason", req{Method: "POST", Path: "/admin/review", Header: form, Body: []byte("record_id=" + m.RecordID + "&outcome=rejected&reason=%ff%fe")}, 422},
		{"form review control character", req{Method: "POST", Path: "/admin/review", Header: form, Body: []byte("record_id=" + m.RecordID + "&outcome=rejected&reason=a%07b")}, 422},
		{"form review not a form", req{Method: "POST", Path: "/admin/review", Body: []byte(`{"record_id":"x"}`), Header: map[string]string{"Content-Type": "application/json"}}, 422},
		{"form review too large", req{Method: "POST", Path: "/admin/review", Header: form, Body: bytes.Repeat([]byte("a"), wire.MaxReviewBytes+1)}, 413},
		{"roster upload not multipart", req{Method: "POST", Path: "/admin/roster", Header: form, Body: []byte("a=b")}, 400},
		{"roster upload without the file part", req{Method: "POST", Path: "/admin/roster", Body: []byte("--XX\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nhi\r\n--XX--\r\n"),
			Header: map[string]string{"Content-Type": "multipart/form-data; boundary=XX"}}, 400},
		{"roster upload broken multipart", req{Method: "POST", Path: "/admin/roster", Body: []byte("--XX\r\nnonsense"),
			Header: map[string]string{"Content-Type": "multipart/form-data; boundary=XX"}}, 400},
		{"roster empty", req{Method: "POST", Path: "/v1/admin/roster", Body: []byte{}}, 422},
		{"roster binary", req{Method: "POST", Path: "/v1/admin/roster", Body: []byte("\x00\x01\x02PK\x03\x04")}, 422},
		{"roster UTF-16", req{Method: "POST", Path: "/v1/admin/roster", Body: []byte("\xff\xfe\x00a\x00b")}, 422},
		{"photo of a bad ID", req{Method: "GET", Path: "/admin/photo/..%2fcentral.db"}, 400},
		{"photo of an unknown record", req{Method: "GET", Path: "/admin/photo/" + recordID(t)}, 404},
		{"admin DELETE", req{Method: "DELETE", Path: "/admin/"}, 405},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.req.Basic = admin
			r := e.do(c.req)
			if r.Status != c.status {
				t.Fatalf("status %d (%.300s); want %d", r.Status, r.Body, c.status)
			}
		})
	}
	// The record is still unreviewed: every request above was refused.
	r := e.do(req{Method: "GET", Path: "/v1/reviews", Token: e.tokens["lib-1"]})
	want(t, "review feed", r, http.StatusOK, "")
	if !bytes.Contains(r.Body, []byte(`"reviews":[]`)) {
		t.Fatalf("review feed after refused reviews: %s", r.Body)
	}
}
