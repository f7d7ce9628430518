package roster_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"kioskd/kiosk/roster"
)

// feedRow is student i of ids as central's feed gives it.
func feedRow(i int, status roster.Status, code string) roster.Row {
	return roster.Row{IDNumber: ids[i], Name: sixNames[i%len(sixNames)], StudentNumber: fmt.Sprintf("2022%03d", i),
		School: "浙江示例大学", GraduationYear: 2026, Status: status, Code: code}
}

func TestApplyChanges(t *testing.T) {
	var logs bytes.Buffer
	r := openRoster(t, t.TempDir(), roster.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if c, err := r.Cursor(); c != "" || err != nil {
		t.Fatalf("Cursor of a new roster = %q, %v; want empty", c, err)
	}

	page1 := []roster.Row{feedRow(0, "", "C0"), feedRow(1, roster.StatusEligible, "C1"), feedRow(2, roster.StatusCollectedOnline, "")}
	res, err := r.ApplyChanges(page1, nil, "e.3")
	if err != nil {
		t.Fatal(err)
	}
	if counts(res) != [4]int{3, 0, 0, 0} || res.Skipped != 0 {
		t.Errorf("first page = %+v; want 3 added", res)
	}
	if c, _ := r.Cursor(); c != "e.3" {
		t.Errorf("Cursor = %q; want e.3", c)
	}
	if m := identify(t, r, 0); m.State != roster.StatusEligible {
		t.Errorf("student 0 = %s; want eligible (an empty status)", m.State)
	}
	if m := identify(t, r, 2); m.State != roster.StatusCollectedOnline {
		t.Errorf("student 2 = %s; want collected_online", m.State)
	}
	if m, err := r.IdentifyByCode("C1"); err != nil || m.Name != sixNames[1] {
		t.Errorf("IdentifyByCode(C1) = %+v, %v; want student 1 (the code index is in the same transaction)", m, err)
	}
	if err := r.SetLocal(r.Key(ids[0]), roster.Local{State: roster.StatusCapturedHere}); err != nil {
		t.Fatal(err)
	}

	// Page 2: student 1 changes (and takes C0), student 0 is removed, one
	// new student, and rows central should never send.
	bad := feedRow(4, "", "")
	bad.IDNumber = ids[4][:17] + "0" // wrong check character
	if bad.IDNumber == ids[4] {
		bad.IDNumber = ids[4][:17] + "1"
	}
	odd := feedRow(5, "suspended", "")
	ch1 := feedRow(1, roster.StatusRejected, "C0")
	ch1.Reason = "背景不均匀"
	page2 := []roster.Row{ch1, feedRow(3, "", ""), bad, odd}
	removed := []string{ids[0], ids[6], "not-an-id"} // ids[6] was never on the roster
	res, err = r.ApplyChanges(page2, removed, "e.9")
	if err != nil {
		t.Fatal(err)
	}
	if counts(res) != [4]int{1, 1, 0, 1} || res.Skipped != 3 {
		t.Errorf("second page = %+v; want 1 added, 1 updated, 1 removed, 3 skipped", res)
	}
	if m := identify(t, r, 1); m.State != roster.StatusRejected || m.Reason != "背景不均匀" {
		t.Errorf("student 1 = %s (%q); want rejected with its reason", m.State, m.Reason)
	}
	if m, _ := r.IdentifyByCode("C0"); m.Name != sixNames[1] {
		t.Errorf("IdentifyByCode(C0) = %+v; want student 1, who took the code", m)
	}
	if m, _ := r.IdentifyByCode("C1"); m.State != roster.StatusNotOnRoster {
		t.Errorf("IdentifyByCode(C1) = %s; want not_on_roster (student 1 gave it up)", m.State)
	}
	if m, _ := r.IdentifyByID(ids[0], sixNames[0]); m.State != roster.StatusNotOnRoster {
		t.Errorf("removed student = %s; want not_on_roster", m.State)
	}
	if c, _ := r.Cursor(); c != "e.9" {
		t.Errorf("Cursor = %q; want e.9", c)
	}
	for _, id := range ids[:7] {
		if strings.Contains(logs.String(), id) || strings.Contains(logs.String(), id[:17]) {
			t.Fatalf("log holds an ID number:\n%s", logs.String())
		}
	}
	if !strings.Contains(logs.String(), "skipped") {
		t.Errorf("log does not mention the skipped rows:\n%s", logs.String())
	}

	// The same page again (a crash before the next page): nothing changes.
	before, _ := r.Counts()
	res, err = r.ApplyChanges([]roster.Row{ch1, feedRow(3, "", "")}, []string{ids[0]}, "e.9")
	if err != nil {
		t.Fatal(err)
	}
	if counts(res) != [4]int{0, 0, 2, 0} {
		t.Errorf("page applied again = %+v; want 2 unchanged, nothing removed", res)
	}
	after, _ := r.Counts()
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("Counts %v → %v after applying a page again", before, after)
	}

	// Listed again: the student is back with the local state kept.
	if _, err := r.ApplyChanges([]roster.Row{feedRow(0, "", "C0x")}, nil, "e.10"); err != nil {
		t.Fatal(err)
	}
	if m := identify(t, r, 0); m.State != roster.StatusCapturedHere {
		t.Errorf("restored student = %s; want captured_here (local state kept through removal)", m.State)
	}
	got, _ := r.Counts()
	active := 0
	for st, n := range got {
		if st != roster.StatusNotOnRoster {
			active += n
		}
	}
	if active != 4 {
		t.Errorf("Counts = %v; want 4 students on the roster", got)
	}
}

func TestApplyChangesLimit(t *testing.T) {
	r := openRoster(t, t.TempDir(), roster.Options{})
	if _, err := r.ApplyChanges([]roster.Row{feedRow(0, "", "")}, nil, "e.1"); err != nil {
		t.Fatal(err)
	}
	rows := make([]roster.Row, roster.MaxChanges)
	for i := range rows {
		rows[i] = roster.Row{IDNumber: benchID(i), Name: "某"}
	}
	_, err := r.ApplyChanges(rows, []string{ids[0]}, "e.2")
	if !errors.Is(err, roster.ErrTooManyChanges) {
		t.Fatalf("ApplyChanges of %d changes = %v; want ErrTooManyChanges", roster.MaxChanges+1, err)
	}
	if c, _ := r.Cursor(); c != "e.1" {
		t.Errorf("Cursor = %q after a refused page; want e.1", c)
	}
	res, err := r.ApplyChanges(rows, nil, "e.2")
	if err != nil || res.Added != roster.MaxChanges {
		t.Errorf("ApplyChanges of %d rows = %+v, %v; want all added", roster.MaxChanges, res, err)
	}
}

func TestReplaceAll(t *testing.T) {
	r := openRoster(t, t.TempDir(), roster.Options{BatchSize: 2})
	if _, err := r.ApplyChanges([]roster.Row{feedRow(0, "", "C0"), feedRow(1, "", ""), feedRow(2, "", "")}, nil, "old.3"); err != nil {
		t.Fatal(err)
	}
	if err := r.SetLocal(r.Key(ids[2]), roster.Local{State: roster.StatusCapturedHere}); err != nil {
		t.Fatal(err)
	}

	// A refused reload (a student twice) writes nothing, cursor included.
	if _, err := r.ReplaceAll([]roster.Row{feedRow(1, "", ""), feedRow(1, "", "")}, "new.1"); !errors.Is(err, roster.ErrBadRows) {
		t.Fatalf("ReplaceAll with a repeated student = %v; want ErrBadRows", err)
	}
	if c, _ := r.Cursor(); c != "old.3" {
		t.Errorf("Cursor = %q after a refused reload; want old.3", c)
	}

	// A reload with a skipped row removes nobody.
	bad := feedRow(3, "", "")
	bad.IDNumber = "123"
	res, err := r.ReplaceAll([]roster.Row{feedRow(1, "", ""), bad}, "new.4")
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped != 1 || !res.RemovalSkipped || res.Removed != 0 {
		t.Errorf("ReplaceAll with a bad row = %+v; want 1 skipped and removal skipped", res)
	}
	if c, _ := r.Cursor(); c != "new.4" {
		t.Errorf("Cursor = %q; want new.4", c)
	}

	res, err = r.ReplaceAll([]roster.Row{feedRow(1, roster.StatusApproved, ""), feedRow(3, "", "C3")}, "new.7")
	if err != nil {
		t.Fatal(err)
	}
	if counts(res) != [4]int{1, 1, 0, 2} || res.Skipped != 0 {
		t.Errorf("ReplaceAll = %+v; want 1 added, 1 updated, 2 removed", res)
	}
	for i, want := range map[int]roster.Status{0: roster.StatusNotOnRoster, 1: roster.StatusApproved, 2: roster.StatusNotOnRoster} {
		if m, _ := r.IdentifyByID(ids[i], sixNames[i]); m.State != want {
			t.Errorf("student %d = %s; want %s", i, m.State, want)
		}
	}
	if m, _ := r.IdentifyByCode("C3"); m.Name != sixNames[3] {
		t.Errorf("IdentifyByCode(C3) = %+v; want student 3", m)
	}
	if c, _ := r.Cursor(); c != "new.7" {
		t.Errorf("Cursor = %q; want new.7", c)
	}
	// Listed again later: the local state survived the removal.
	if _, err := r.ApplyChanges([]roster.Row{feedRow(2, "", "")}, nil, "new.8"); err != nil {
		t.Fatal(err)
	}
	if m := identify(t, r, 2); m.State != roster.StatusCapturedHere {
		t.Errorf("student 2 = %s; want captured_here", m.State)
	}
}

// TestReplaceAllCursorLast watches a reload in small transactions: whenever
// the new cursor is visible, every row of the reload must be visible too,
// so a crash part-way leaves the old cursor (and the next sync reloads).
func TestReplaceAllCursorLast(t *testing.T) {
	const n = 600
	r := openRoster(t, t.TempDir(), roster.Options{BatchSize: 20})
	rows := make([]roster.Row, n)
	for i := range rows {
		rows[i] = roster.Row{IDNumber: benchID(i), Name: "某", Code: fmt.Sprintf("K%d", i)}
	}
	var done atomic.Bool
	errc := make(chan error, 1)
	go func() { // exits when ReplaceAll returns; waited for below
		_, err := r.ReplaceAll(rows, "full.600")
		done.Store(true)
		errc <- err
	}()
	seen := 0
	for !done.Load() {
		c, err := r.Cursor()
		if err != nil {
			t.Fatal(err)
		}
		if c != "full.600" {
			continue
		}
		seen++
		got, err := r.Counts()
		if err != nil {
			t.Fatal(err)
		}
		if got[roster.StatusEligible] != n {
			t.Fatalf("cursor stored while %d of %d students were written", got[roster.StatusEligible], n)
		}
		if m, _ := r.IdentifyByCode(fmt.Sprintf("K%d", n-1)); m.State != roster.StatusEligible {
			t.Fatalf("cursor stored before the code index")
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if c, _ := r.Cursor(); c != "full.600" {
		t.Errorf("Cursor = %q; want full.600", c)
	}
	t.Logf("cursor seen %d times during the reload", seen)
}

// TestApplyChangesHostileCells: a feed row's text is checked as a CSV
// cell is; a row that fails is skipped and counted, the others applied.
func TestApplyChangesHostileCells(t *testing.T) {
	r := openRoster(t, t.TempDir(), roster.Options{})
	long := feedRow(0, "", "")
	long.Name = strings.Repeat("长", 2000)
	ctrl := feedRow(1, "", "")
	ctrl.School = "学校\x1b[2J"
	code := feedRow(2, "", "bad code")
	noName := feedRow(3, "", "")
	noName.Name = " "
	year := feedRow(4, "", "")
	year.GraduationYear = 99999
	utf := feedRow(5, "", "")
	utf.Major = "\xff\xfe"
	good := feedRow(6, "", "C6")
	res, err := r.ApplyChanges([]roster.Row{long, ctrl, code, noName, year, utf, good}, nil, "e.7")
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 1 || res.Skipped != 6 {
		t.Errorf("ApplyChanges = %+v; want the good row added and the 6 hostile ones skipped", res)
	}
	if m, err := r.IdentifyByCode("C6"); err != nil || m.State != roster.StatusEligible {
		t.Errorf("IdentifyByCode(C6) = %+v, %v; want the good row", m, err)
	}
}
