package central_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"kioskd/kiosk/queue"
	"kioskd/sync/wire"
)

func TestAdminPage(t *testing.T) {
	e := newEnv(t)
	m, photo := e.record("lib-1", 1)
	m.Student.Name = "张三<script>"
	want(t, "record", e.putManifest("lib-1", m), http.StatusCreated, "")
	m2, _ := e.record("lib-2", 2)
	want(t, "record 2", e.putManifest("lib-2", m2), http.StatusCreated, "")
	want(t, "review", e.adminReview(wire.ReviewRequest{RecordID: m2.RecordID, Outcome: wire.OutcomeRejected, Reason: "闭眼 / eyes closed"}), http.StatusCreated, "")
	want(t, "heartbeat", e.do(req{Method: "POST", Path: "/v1/stations/lib-1/heartbeat", Token: e.tokens["lib-1"], Body: heartbeatBody(t, "lib-1")}), http.StatusNoContent, "")

	r := e.do(req{Method: "GET", Path: "/admin/", Basic: e.srv.AdminToken()})
	want(t, "admin page", r, http.StatusOK, "")
	page := string(r.Body)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type %q", ct)
	}
	if r.Header.Get("Content-Security-Policy") == "" {
		t.Error("no Content-Security-Policy")
	}
	for _, s := range []string{
		"lib-1", "lib-2", queue.Mask(m.Student.IDNumber), queue.Mask(m2.Student.IDNumber),
		"张三&lt;script&gt;", `src="/admin/photo/` + m.RecordID + `"`, "accepted 5, queued 2",
		`action="/admin/review"`, `action="/admin/roster"`, `enctype="multipart/form-data"`, "闭眼 / eyes closed",
		"工作站 / Stations",
	} {
		if !strings.Contains(page, s) {
			t.Errorf("the admin page lacks %q", s)
		}
	}
	for _, s := range []string{m.Student.IDNumber, m2.Student.IDNumber, "<script>"} {
		if strings.Contains(page, s) {
			t.Errorf("the admin page shows %q", s)
		}
	}
	// Only the unreviewed record has review forms.
	if n := strings.Count(page, `name="record_id" value="`+m2.RecordID+`"`); n != 0 {
		t.Errorf("the reviewed record has %d review forms", n)
	}
	if n := strings.Count(page, `name="record_id" value="`+m.RecordID+`"`); n != 2 {
		t.Errorf("the unreviewed record has %d review forms; want 2", n)
	}

	r = e.do(req{Method: "GET", Path: "/admin/photo/" + m.RecordID, Basic: e.srv.AdminToken()})
	want(t, "thumbnail", r, http.StatusOK, "")
	if !bytes.Equal(r.Body, photo) || r.Header.Get("Content-Type") != wire.ContentTypeBlob {
		t.Fatalf("thumbnail: %d bytes of %s; want the stored photo", len(r.Body), r.Header.Get("Content-Type"))
	}
	r = e.do(req{Method: "GET", Path: "/admin/admin.css", Basic: e.srv.AdminToken()})
	if want(t, "style sheet", r, http.StatusOK, ""); !strings.HasPrefix(r.Header.Get("Content-Type"), "text/css") {
		t.Errorf("style sheet Content-Type %q", r.Header.Get("Content-Type"))
	}
	r = e.do(req{Method: "GET", Path: "/admin"})
	want(t, "/admin redirects", r, http.StatusSeeOther, "")
}

func TestAdminRosterUpload(t *testing.T) {
	e := newEnv(t)
	upload := func(csv []byte) resp {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		mw.WriteField("note", "ignored")
		fw, _ := mw.CreateFormFile("file", "名单.csv")
		fw.Write(csv)
		mw.Close()
		return e.do(req{Method: "POST", Path: "/admin/roster", Basic: e.srv.AdminToken(), Body: body.Bytes(),
			Header: map[string]string{"Content-Type": mw.FormDataContentType(), "Origin": e.http.URL, "Sec-Fetch-Site": "same-origin"}})
	}
	r := upload(rosterCSV(t, []int{1, 2, 3}, nil, nil))
	want(t, "upload", r, http.StatusSeeOther, "")
	if loc := r.Header.Get("Location"); !strings.Contains(loc, "done=roster") || !strings.Contains(loc, "added=3") {
		t.Fatalf("redirect to %q", loc)
	}
	r = e.do(req{Method: "GET", Path: r.Header.Get("Location"), Basic: e.srv.AdminToken()})
	if want(t, "page after upload", r, http.StatusOK, ""); !strings.Contains(string(r.Body), "新增 3") {
		t.Errorf("the page does not say what the import did")
	}
	bad := append(rosterCSV(t, []int{4}, nil, nil), "123,无效,S,X,Y,2026,\n"...)
	r = upload(bad)
	want(t, "upload with a bad row", r, http.StatusUnprocessableEntity, "")
	if page := string(r.Body); !strings.Contains(page, "lines 3") || !strings.Contains(page, `class="error"`) {
		t.Errorf("the refusal page does not name line 3")
	}
	if got, _, _ := e.rosterFeed("lib-1", "", 0); len(got) != 3 {
		t.Fatalf("roster holds %d after a refused upload; want 3", len(got))
	}
}
