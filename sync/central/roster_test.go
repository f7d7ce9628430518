package central_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"kioskd/sync/central"
	"kioskd/sync/wire"
)

// feed reads the roster feed from since to its end, limit changes a page,
// and returns the changes, the last next cursor and the number of pages.
func (e *env) rosterFeed(station, since string, limit int) ([]wire.RosterChange, string, int) {
	e.t.Helper()
	var all []wire.RosterChange
	for pages := 1; ; pages++ {
		path := "/v1/roster?since=" + url.QueryEscape(since)
		if limit > 0 {
			path += "&limit=" + itoa(limit)
		}
		r := e.do(req{Method: "GET", Path: path, Token: e.tokens[station]})
		want(e.t, "roster feed", r, http.StatusOK, "")
		p, err := wire.DecodeRosterPage(bytes.NewReader(r.Body))
		if err != nil {
			e.t.Fatalf("roster page: %v", err)
		}
		if limit > 0 && len(p.Changes) > limit {
			e.t.Fatalf("page of %d changes; limit %d", len(p.Changes), limit)
		}
		all = append(all, p.Changes...)
		since = p.Next
		if !p.More {
			return all, since, pages
		}
		if pages > 10_000 {
			e.t.Fatal("roster feed never ends")
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func byID(changes []wire.RosterChange) map[string]wire.RosterChange {
	m := map[string]wire.RosterChange{}
	for _, c := range changes {
		m[c.Student.IDNumber] = c
	}
	return m
}

func (e *env) importRoster(csv []byte) (central.RosterResult, resp) {
	e.t.Helper()
	r := e.do(req{Method: "POST", Path: "/v1/admin/roster", Token: e.srv.AdminToken(), Body: csv,
		Header: map[string]string{"Content-Type": "text/csv"}})
	var res central.RosterResult
	if r.Status == http.StatusOK {
		if err := jsonUnmarshal(r.Body, &res); err != nil {
			e.t.Fatal(err)
		}
	}
	return res, r
}

func TestRosterFeed(t *testing.T) {
	e := newEnv(t)
	students := []int{1, 2, 3, 4, 5}
	res, r := e.importRoster(rosterCSV(t, students, nil, nil))
	want(t, "import", r, http.StatusOK, "")
	if res.Added != 5 || res.Updated+res.Unchanged+res.Removed != 0 {
		t.Fatalf("first import %+v; want 5 added", res)
	}

	all, cursor, pages := e.rosterFeed("lib-1", "", 2)
	if len(all) != 5 || pages != 3 {
		t.Fatalf("feed from empty: %d changes in %d pages; want 5 in 3", len(all), pages)
	}
	got := byID(all)
	for _, i := range students {
		c, ok := got[idNumber(t, i)]
		if !ok || c.Op != wire.OpUpsert || c.Student.Name != "学生"+itoa(i) || c.Student.Status != "eligible" ||
			c.Student.School != "示范大学" || c.Student.GraduationYear != 2026 {
			t.Errorf("student %d in the feed: %+v, %v", i, c, ok)
		}
	}
	if !strings.HasPrefix(cursor, e.srv.Epoch()+".") {
		t.Fatalf("cursor %q is not EPOCH.SEQ", cursor)
	}
	if again, next, _ := e.rosterFeed("lib-2", cursor, 0); len(again) != 0 || next != cursor {
		t.Fatalf("feed at its end: %d changes, next %s; want none and %s", len(again), next, cursor)
	}

	// Change student 2's name, drop student 4, keep the others.
	res, r = e.importRoster(rosterCSV(t, []int{1, 2, 3, 5}, map[int]string{2: "改名"}, nil))
	want(t, "second import", r, http.StatusOK, "")
	if res != (central.RosterResult{Updated: 1, Unchanged: 3, Removed: 1, Encoding: "UTF-8"}) {
		t.Fatalf("second import %+v; want 1 updated, 3 unchanged, 1 removed", res)
	}
	delta, cursor2, _ := e.rosterFeed("lib-1", cursor, 0)
	if len(delta) != 2 {
		t.Fatalf("delta: %+v; want 2 changes", delta)
	}
	if c := delta[0]; c.Op != wire.OpUpsert || c.Student.IDNumber != idNumber(t, 2) || c.Student.Name != "改名" {
		t.Errorf("delta[0] = %+v; want student 2 renamed", c)
	}
	if c := delta[1]; c.Op != wire.OpDelete || c.Student.IDNumber != idNumber(t, 4) || c.Student.Name != "" {
		t.Errorf("delta[1] = %+v; want student 4 deleted (ID number only)", c)
	}

	// From the start the feed is compact: each student once, at their newest.
	full, _, _ := e.rosterFeed("lib-1", "", 0)
	if len(full) != 5 {
		t.Fatalf("full feed after changes: %d; want 5", len(full))
	}
	if c := byID(full)[idNumber(t, 4)]; c.Op != wire.OpDelete {
		t.Errorf("student 4 in the full feed: %+v; want a delete", c)
	}

	// Listing student 4 again brings them back.
	res, r = e.importRoster(rosterCSV(t, []int{1, 2, 3, 4, 5}, map[int]string{2: "改名"}, nil))
	want(t, "third import", r, http.StatusOK, "")
	if res.Added != 1 || res.Unchanged != 4 {
		t.Fatalf("third import %+v; want 1 added, 4 unchanged", res)
	}
	delta, cursor3, _ := e.rosterFeed("lib-1", cursor2, 0)
	if len(delta) != 1 || delta[0].Op != wire.OpUpsert || delta[0].Student.Name != "学生4" {
		t.Fatalf("after re-listing: %+v", delta)
	}

	// A file with a bad row is refused whole; nothing changes.
	bad := rosterCSV(t, []int{1, 2}, nil, nil)
	badID := idNumber(t, 7)
	badID = badID[:17] + string("0123456789X"[(strings.IndexByte("0123456789X", badID[17])+1)%11])
	bad = append(bad, (badID + ",坏行,S1,示范大学,计算机,2026,\n")...)
	bad = append(bad, (idNumber(t, 8) + ",,S2,示范大学,计算机,2026,\n")...)
	_, r = e.importRoster(bad)
	want(t, "import with bad rows", r, http.StatusUnprocessableEntity, wire.CodeInvalid)
	msg := r.err().Message
	if !strings.Contains(msg, "lines 4, 5") {
		t.Errorf("refusal %q does not name lines 4 and 5", msg)
	}
	if strings.Contains(string(r.Body), badID) || strings.Contains(string(r.Body), idNumber(t, 8)) {
		t.Errorf("refusal shows a full ID number: %s", r.Body)
	}
	if delta, _, _ := e.rosterFeed("lib-1", cursor3, 0); len(delta) != 0 {
		t.Fatalf("a refused file changed the roster: %+v", delta)
	}

	// Another epoch's cursor is gone.
	r = e.do(req{Method: "GET", Path: "/v1/roster?since=ffffffffffffffff.1", Token: e.tokens["lib-1"]})
	want(t, "foreign epoch", r, http.StatusGone, wire.CodeCursorGone)
}

func TestImportRosterErrors(t *testing.T) {
	e := newEnv(t)
	_, err := e.srv.ImportRoster(strings.NewReader("身份证号,姓名\n"))
	var re *central.RosterError
	if !errors.As(err, &re) {
		t.Fatalf("ImportRoster(header only) = %v; want *RosterError", err)
	}
	_, err = e.srv.ImportRoster(strings.NewReader("name,age\nx,1\n"))
	if !errors.As(err, &re) {
		t.Fatalf("ImportRoster(wrong columns) = %v; want *RosterError", err)
	}
	_, err = e.srv.ImportRoster(bytes.NewReader(rosterCSV(t, []int{1}, nil, map[int]string{1: "perhaps"})))
	if !errors.As(err, &re) || len(re.Lines) != 1 || re.Lines[0] != 2 {
		t.Fatalf("ImportRoster(bad status) = %v; want *RosterError for line 2", err)
	}
}

// TestRosterLarge imports more students than one transaction takes and
// pages through them.
func TestRosterLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("imports 25,000 students")
	}
	e := newEnv(t)
	const n = 25_000
	students := make([]int, n)
	for i := range students {
		students[i] = i
	}
	res, err := e.srv.ImportRoster(bytes.NewReader(rosterCSV(t, students, nil, nil)))
	if err != nil || res.Added != n {
		t.Fatalf("import %d: %+v, %v", n, res, err)
	}
	all, cursor, pages := e.rosterFeed("lib-1", "", 0)
	if len(all) != n || pages != n/wire.MaxRosterPage {
		t.Fatalf("%d changes in %d pages; want %d in %d", len(all), pages, n, n/wire.MaxRosterPage)
	}
	if len(byID(all)) != n {
		t.Fatalf("%d distinct students in the feed; want %d", len(byID(all)), n)
	}
	// Drop the first 12,000 (more than one batch).
	res, err = e.srv.ImportRoster(bytes.NewReader(rosterCSV(t, students[12_000:], nil, nil)))
	if err != nil || res.Removed != 12_000 || res.Unchanged != n-12_000 {
		t.Fatalf("second import: %+v, %v", res, err)
	}
	delta, _, _ := e.rosterFeed("lib-1", cursor, 0)
	if len(delta) != 12_000 {
		t.Fatalf("delta %d; want 12000", len(delta))
	}
	for _, c := range delta {
		if c.Op != wire.OpDelete {
			t.Fatalf("delta holds %+v; want deletes only", c)
		}
	}
}
