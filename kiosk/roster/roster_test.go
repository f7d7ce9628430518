package roster_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kioskd/kiosk/queue"
	"kioskd/kiosk/roster"
)

var (
	t0       = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	sixNames = []string{"张三", "李四", "王五", "赵六", "钱七", "孙八"}
)

// clock is a settable clock for Options.Now.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func openRoster(t *testing.T, dir string, opt roster.Options) *roster.Roster {
	t.Helper()
	r, err := roster.Open(dir, opt)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// sixRows is a roster of ids[0..5] with codes C0..C5, all eligible.
func sixRows() string {
	var b strings.Builder
	b.WriteString(header)
	for i, n := range sixNames {
		b.WriteString(row(ids[i], n, "", "C"+string(rune('0'+i))))
	}
	return b.String()
}

func importCSV(t *testing.T, r *roster.Roster, csv string, mode roster.Mode) roster.Result {
	t.Helper()
	res, err := r.ImportCSV(strings.NewReader(csv), mode)
	if err != nil {
		t.Fatalf("ImportCSV: %v", err)
	}
	return res
}

func counts(res roster.Result) [4]int {
	return [4]int{res.Added, res.Updated, res.Unchanged, res.Removed}
}

func identify(t *testing.T, r *roster.Roster, i int) roster.Match {
	t.Helper()
	m, err := r.IdentifyByID(ids[i], sixNames[i])
	if err != nil {
		t.Fatalf("IdentifyByID(#%d): %v", i, err)
	}
	return m
}

func TestIdentify(t *testing.T) {
	r := openRoster(t, t.TempDir(), roster.Options{BatchSize: 4})
	if res := importCSV(t, r, sixRows(), roster.Replace); counts(res) != [4]int{6, 0, 0, 0} {
		t.Fatalf("first import counts = %v; want 6 added", counts(res))
	}
	m := identify(t, r, 1)
	if m.State != roster.StatusEligible || m.Name != "李四" || m.Masked != queue.Mask(ids[1]) || m.School != "浙江示例大学" || m.GraduationYear != 2026 {
		t.Errorf("IdentifyByID = %+v", m)
	}
	if m.Masked == ids[1] || !strings.Contains(m.Masked, "**********") {
		t.Errorf("Masked = %q; want 4+10 stars+4", m.Masked)
	}
	if m.Key != r.Key(ids[1]) || m.Key != r.Key(strings.ToLower(" "+ids[1])) {
		t.Errorf("Match.Key %q != Key(id)", m.Key)
	}
	if got, err := r.IDNumber(m.Key); err != nil || got != ids[1] {
		t.Errorf("IDNumber(key) = %v; want the ID number", err)
	}
	// Names compare without spaces and with full-width letters folded.
	if _, err := r.IdentifyByID(ids[1], " 李　四 "); err != nil {
		t.Errorf("IdentifyByID with spaces in the name: %v", err)
	}
	if _, err := r.IdentifyByID(ids[1], "李五"); !errors.Is(err, roster.ErrNameMismatch) {
		t.Errorf("IdentifyByID(wrong name) = %v; want ErrNameMismatch", err)
	}
	// A valid number not on the roster.
	other := fakeID(t, "110101", "20030303", 999)
	if m, err := r.IdentifyByID(other, "某人"); err != nil || m.State != roster.StatusNotOnRoster || m.Masked != queue.Mask(other) || m.Name != "" {
		t.Errorf("IdentifyByID(unknown) = %+v, %v; want not on roster, masked", m, err)
	}
	var ie *roster.IDError
	if _, err := r.IdentifyByID("110105491231002", "张三"); !errors.As(err, &ie) || ie.Problem != roster.IDLegacy15 {
		t.Errorf("IdentifyByID(15 digits) = %v; want IDLegacy15", err)
	}
	// By collection code, as a scanner types it.
	if m, err := r.IdentifyByCode("C3\r\n"); err != nil || m.Name != "赵六" || m.State != roster.StatusEligible {
		t.Errorf("IdentifyByCode(C3) = %+v, %v", m, err)
	}
	if m, err := r.IdentifyByCode("C9"); err != nil || m.State != roster.StatusNotOnRoster {
		t.Errorf("IdentifyByCode(unknown) = %+v, %v; want not on roster", m, err)
	}
	if _, err := r.IdentifyByCode("C 3"); !errors.Is(err, roster.ErrBadCode) {
		t.Errorf("IdentifyByCode(with space) = %v; want ErrBadCode", err)
	}
}

func TestStates(t *testing.T) {
	c := &clock{now: t0}
	r := openRoster(t, t.TempDir(), roster.Options{Now: c.Now})
	in := header + row(ids[0], "张三", "待采集", "") + row(ids[1], "李四", "已采集", "") +
		row(ids[2], "王五", "审核通过", "") + strings.TrimSuffix(row(ids[3], "赵六", "审核未通过", ""), "\n") + "\n"
	in = strings.Replace(in, "状态,采集码", "状态,采集码,驳回原因", 1)
	in = strings.ReplaceAll(in, ",\n", ",,\n")
	in = strings.Replace(in, "审核未通过,,", "审核未通过,,背景不是浅蓝色", 1)
	res := importCSV(t, r, in, roster.Replace)
	if len(res.Errors) != 0 {
		t.Fatalf("import errors: %v", res.Errors)
	}
	want := []roster.Status{roster.StatusEligible, roster.StatusCollectedOnline, roster.StatusApproved, roster.StatusRejected}
	for i, w := range want {
		if m := identify(t, r, i); m.State != w {
			t.Errorf("student %d state = %s; want %s", i, m.State, w)
		}
	}
	if m := identify(t, r, 3); m.Reason != "背景不是浅蓝色" {
		t.Errorf("rejected reason = %q", m.Reason)
	}

	// The station captures student 0 and the retake of student 3.
	c.now = t0.Add(time.Hour)
	for _, i := range []int{0, 3} {
		if err := r.SetLocal(r.Key(ids[i]), roster.Local{State: roster.StatusCapturedHere, RecordID: "rec-" + sixNames[i]}); err != nil {
			t.Fatal(err)
		}
		if m := identify(t, r, i); m.State != roster.StatusCapturedHere || m.RecordID != "rec-"+sixNames[i] {
			t.Errorf("after capture, student %d = %s %q; want captured_here", i, m.State, m.RecordID)
		}
	}
	// A stale full re-import (student 3 still rejected, the others unchanged)
	// does not undo the local capture; other changes keep it too.
	c.now = t0.Add(2 * time.Hour)
	stale := strings.Replace(in, "浙江示例大学", "浙江示例大学（新校区）", 1) // student 0's school changes
	if res := importCSV(t, r, stale, roster.Replace); counts(res) != [4]int{0, 1, 3, 0} {
		t.Errorf("stale re-import counts = %v; want 1 updated, 3 unchanged", counts(res))
	}
	for _, i := range []int{0, 3} {
		if m := identify(t, r, i); m.State != roster.StatusCapturedHere {
			t.Errorf("after a stale re-import, student %d = %s; want captured_here", i, m.State)
		}
	}
	// Review outcomes reach the station's record: rejected (with reason), approved.
	if err := r.SetLocal(r.Key(ids[0]), roster.Local{State: roster.StatusRejected, Reason: "闭眼"}); err != nil {
		t.Fatal(err)
	}
	if m := identify(t, r, 0); m.State != roster.StatusRejected || m.Reason != "闭眼" {
		t.Errorf("after local rejection = %s %q; want rejected 闭眼", m.State, m.Reason)
	}
	// Central approves student 3 later: central's approval wins.
	c.now = t0.Add(3 * time.Hour)
	approved := strings.Replace(stale, "审核未通过,,背景不是浅蓝色", "审核通过,,", 1)
	importCSV(t, r, approved, roster.Merge)
	if m := identify(t, r, 3); m.State != roster.StatusApproved || m.Reason != "" {
		t.Errorf("after central approval = %s %q; want approved", m.State, m.Reason)
	}
	if err := r.SetLocal(r.Key(ids[0]), roster.Local{State: roster.StatusEligible}); !errors.Is(err, roster.ErrLocalState) {
		t.Errorf("SetLocal(eligible) = %v; want ErrLocalState", err)
	}
	if err := r.SetLocal(r.Key(ids[5]), roster.Local{State: roster.StatusApproved}); !errors.Is(err, roster.ErrNotFound) {
		t.Errorf("SetLocal(unknown) = %v; want ErrNotFound", err)
	}
	got, err := r.Counts()
	if err != nil || got[roster.StatusRejected] != 1 || got[roster.StatusApproved] != 2 || got[roster.StatusCollectedOnline] != 1 || len(got) != 3 {
		t.Errorf("Counts = %v, %v", got, err)
	}
}

func TestReimport(t *testing.T) {
	dir := t.TempDir()
	r := openRoster(t, dir, roster.Options{BatchSize: 2})
	importCSV(t, r, sixRows(), roster.Replace)
	if res := importCSV(t, r, sixRows(), roster.Replace); counts(res) != [4]int{0, 0, 6, 0} {
		t.Fatalf("same file again: counts %v; want 6 unchanged", counts(res))
	}
	if err := r.SetLocal(r.Key(ids[1]), roster.Local{State: roster.StatusCapturedHere}); err != nil {
		t.Fatal(err)
	}
	// Drop student 5, rename student 1, move code C0 to a new student 6.
	next := strings.Replace(sixRows(), row(ids[5], "孙八", "", "C5"), "", 1)
	next = strings.Replace(next, "李四", "李思", 1)
	next = strings.Replace(next, row(ids[0], "张三", "", "C0"), row(ids[0], "张三", "", ""), 1)
	next += row(ids[6], "周九", "", "C0")
	res := importCSV(t, r, next, roster.Replace)
	if counts(res) != [4]int{1, 2, 3, 1} {
		t.Fatalf("re-import counts %v; want 1 added, 2 updated, 3 unchanged, 1 removed", counts(res))
	}
	if m, err := r.IdentifyByID(ids[5], "孙八"); err != nil || m.State != roster.StatusNotOnRoster {
		t.Errorf("removed student = %+v, %v; want not on roster", m, err)
	}
	if m, err := r.IdentifyByID(ids[1], "李思"); err != nil || m.State != roster.StatusCapturedHere {
		t.Errorf("renamed student = %+v, %v; want the new name and local state kept", m, err)
	}
	if m, err := r.IdentifyByCode("C0"); err != nil || m.Name != "周九" {
		t.Errorf("IdentifyByCode(C0) = %q, %v; want 周九", m.Name, err)
	}
	if m, err := r.IdentifyByCode("C5"); err != nil || m.State != roster.StatusNotOnRoster {
		t.Errorf("IdentifyByCode(removed student's code) = %s, %v; want not on roster", m.State, err)
	}
	// Merge leaves absent students alone; a row with an error stops removal.
	if res := importCSV(t, r, header+row(ids[7], "吴十", "", ""), roster.Merge); counts(res) != [4]int{1, 0, 0, 0} {
		t.Errorf("merge counts %v; want 1 added", counts(res))
	}
	broken := header + row(ids[0], "张三", "", "") + row(ids[1], "", "", "")
	res = importCSV(t, r, broken, roster.Replace)
	if !res.RemovalSkipped || res.Removed != 0 || len(res.Errors) != 1 {
		t.Errorf("replace with a row error: removed %d, skipped %v, errors %v; want removal skipped", res.Removed, res.RemovalSkipped, res.Errors)
	}
	if m := identify(t, r, 2); m.State != roster.StatusEligible {
		t.Errorf("after a refused removal, student 2 = %s; want eligible", m.State)
	}
	// A removed student listed again comes back as added.
	if res := importCSV(t, r, header+row(ids[5], "孙八", "", "C5"), roster.Merge); counts(res) != [4]int{1, 0, 0, 0} {
		t.Errorf("restore counts %v; want 1 added", counts(res))
	}
	if m := identify(t, r, 5); m.State != roster.StatusEligible {
		t.Errorf("restored student = %s; want eligible", m.State)
	}
	// A file refused as a whole changes nothing.
	if _, err := r.ImportCSV(strings.NewReader(header), roster.Replace); !errors.Is(err, roster.ErrNoRows) {
		t.Errorf("ImportCSV(header only) = %v; want ErrNoRows", err)
	}
	if m := identify(t, r, 2); m.State != roster.StatusEligible {
		t.Errorf("after a header-only file, student 2 = %s; want eligible", m.State)
	}
	// It all survives a reopen.
	r.Close()
	r = openRoster(t, dir, roster.Options{})
	if m, err := r.IdentifyByID(ids[1], "李思"); err != nil || m.State != roster.StatusCapturedHere {
		t.Errorf("after reopen = %s, %v; want captured_here", m.State, err)
	}
	if at, err := r.LastImport(); err != nil || at.IsZero() {
		t.Errorf("LastImport = %v, %v", at, err)
	}
}

func TestWindow(t *testing.T) {
	w := roster.Window{Start: t0, End: t0.Add(14 * 24 * time.Hour)}
	c := &clock{}
	r := openRoster(t, t.TempDir(), roster.Options{Window: w, Now: c.Now})
	importCSV(t, r, sixRows(), roster.Replace)
	tests := []struct {
		now   time.Time
		early bool
		ok    bool
	}{
		{t0.Add(-time.Minute), true, false},
		{t0, false, true},
		{w.End.Add(-time.Second), false, true},
		{w.End, false, false},
		{w.End.Add(24 * time.Hour), false, false},
	}
	for _, tt := range tests {
		c.now = tt.now
		for _, f := range []func() (roster.Match, error){
			func() (roster.Match, error) { return r.IdentifyByID(ids[0], "张三") },
			func() (roster.Match, error) { return r.IdentifyByCode("C0") },
		} {
			m, err := f()
			if tt.ok {
				if err != nil || m.State != roster.StatusEligible {
					t.Errorf("at %v: %v, %v; want eligible", tt.now, m.State, err)
				}
				continue
			}
			var we *roster.WindowError
			if !errors.As(err, &we) || we.Early != tt.early || !errors.Is(err, roster.ErrOutsideWindow) || m.Name != "" {
				t.Errorf("at %v: %+v, %v; want a WindowError (early %v)", tt.now, m, err, tt.early)
			}
			if !tt.early && !strings.Contains(err.Error(), "逾期不再受理") {
				t.Errorf("after the window: %q; want 逾期不再受理", err)
			}
		}
	}
	if _, err := roster.Open(t.TempDir(), roster.Options{Window: roster.Window{Start: t0, End: t0}}); err == nil {
		t.Error("Open with an empty window succeeded")
	}
}

// TestNothingInClear checks that roster.db holds no ID number, no name and
// no collection code in clear, and that no log line or message does.
func TestNothingInClear(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r := openRoster(t, dir, roster.Options{Logger: logger})
	hostile := sixRows() +
		ids[6][:17] + "0,坏校验,1,学校,专业,2026,,\n" + // a bad check digit (17 real digits)
		row(ids[7], "吴十", "毕业", "C7") // bad status
	hostile = strings.Replace(hostile, ids[6][:17]+"0", ids[6][:17]+string("0123456789X"[(strings.IndexByte("0123456789X", ids[6][17])+1)%11]), 1)
	res := importCSV(t, r, hostile, roster.Replace)
	if len(res.Errors) != 2 {
		t.Fatalf("errors = %v; want 2", res.Errors)
	}
	var msgs []string
	for _, e := range res.Errors {
		msgs = append(msgs, e.Error())
	}
	_, err := r.IdentifyByID(ids[0], "李四")
	msgs = append(msgs, err.Error())
	_, err = r.IdentifyByID(ids[0][:17], "张三")
	msgs = append(msgs, err.Error())
	if err := r.SetLocal(r.Key(ids[0]), roster.Local{State: roster.StatusCapturedHere}); err != nil {
		t.Fatal(err)
	}
	msgs = append(msgs, logs.String())
	noFullIDs(t, msgs...)
	if !strings.Contains(logs.String(), "roster imported") {
		t.Errorf("log has no import line: %s", logs.String())
	}
	r.Close()
	db, err := os.ReadFile(filepath.Join(dir, roster.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range sixNames {
		for _, secret := range []string{ids[i], ids[i][:17], n, "C" + string(rune('0'+i)) + "\x00"} {
			if bytes.Contains(db, []byte(secret)) {
				t.Errorf("roster.db holds %q of student %d in clear", queue.Mask(secret), i)
			}
		}
	}
	if !bytes.Contains(db, []byte(queue.Mask(ids[0]))) {
		t.Errorf("roster.db does not hold the masked ID number: the check above may be blind")
	}
}

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	r := openRoster(t, dir, roster.Options{})
	importCSV(t, r, sixRows(), roster.Replace)
	// The roster made the station key; the queue opens with it.
	q, err := queue.Open(dir, queue.Options{FreeSpace: func(string) (int64, error) { return 1 << 40, nil }})
	if err != nil {
		t.Fatalf("queue.Open beside the roster: %v", err)
	}
	q.Close()
	// A second roster on the same file fails with ErrLocked.
	if _, err := roster.Open(dir, roster.Options{Timeout: 100 * time.Millisecond}); !errors.Is(err, roster.ErrLocked) {
		t.Errorf("second Open = %v; want ErrLocked", err)
	}
	r.Close()
	keyPath := filepath.Join(dir, queue.KeyFile)
	if err := os.Chmod(keyPath, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := roster.Open(dir, roster.Options{}); !errors.Is(err, roster.ErrKeyFile) {
		t.Errorf("Open with a 0644 key = %v; want ErrKeyFile", err)
	}
	if err := os.WriteFile(keyPath, bytes.Repeat([]byte{7}, 32), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(keyPath, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := roster.Open(dir, roster.Options{}); !errors.Is(err, roster.ErrKeyFile) {
		t.Errorf("Open with another key = %v; want ErrKeyFile", err)
	}
	if err := os.Remove(keyPath); err != nil {
		t.Fatal(err)
	}
	if _, err := roster.Open(dir, roster.Options{}); !errors.Is(err, roster.ErrKeyFile) {
		t.Errorf("Open with the key gone = %v; want ErrKeyFile", err)
	}
}

func TestExport(t *testing.T) {
	r := openRoster(t, t.TempDir(), roster.Options{})
	in := header + row(ids[0], `=HYPERLINK("http://evil.example","点我")`, "", "") + row(ids[1], "李四", "已采集", "")
	in = strings.Replace(in, `=HYPERLINK("http://evil.example","点我")`, `"=HYPERLINK(""http://evil.example"",""点我"")"`, 1)
	res := importCSV(t, r, in, roster.Replace)
	if res.Added != 2 || len(res.Warnings) != 1 || res.Warnings[0].Column != roster.ColName {
		t.Fatalf("import: %v added, warnings %v; want 2 and a formula warning on the name", res.Added, res.Warnings)
	}
	var out bytes.Buffer
	if err := r.Export(&out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if !strings.HasPrefix(s, "\uFEFF") {
		t.Error("export has no BOM")
	}
	if !strings.Contains(s, `"'=HYPERLINK(""http://evil.example"",""点我"")"`) {
		t.Errorf("formula not escaped in export:\n%s", s)
	}
	for _, line := range strings.Split(s, "\n") {
		for _, cell := range strings.Split(line, ",") {
			if strings.HasPrefix(strings.Trim(cell, `"`), "=") {
				t.Errorf("export cell starts with '=': %q", cell)
			}
		}
	}
	if !strings.Contains(s, queue.Mask(ids[1])) || !strings.Contains(s, "collected_online") {
		t.Errorf("export lacks the masked ID or the state:\n%s", s)
	}
	noFullIDs(t, s)
}

func TestImportRows(t *testing.T) {
	r := openRoster(t, t.TempDir(), roster.Options{})
	res, err := r.Import([]roster.Row{{IDNumber: strings.ToLower(stdExampleX), Name: "测试", Status: roster.StatusEligible}}, roster.Merge)
	if err != nil || res.Added != 1 {
		t.Fatalf("Import = %v, %v", res, err)
	}
	if _, err := r.IdentifyByID(stdExampleX, "测试"); err != nil {
		t.Errorf("IdentifyByID after Import: %v", err)
	}
	if _, err := r.Import([]roster.Row{{IDNumber: "110105194912310021", Name: "x"}}, roster.Merge); !errors.Is(err, roster.ErrBadIDNumber) {
		t.Errorf("Import(bad ID) = %v; want ErrBadIDNumber", err)
	}
}

func TestRowStringMasks(t *testing.T) {
	rw := roster.Row{IDNumber: ids[0], Name: "张三", Line: 2}
	var b strings.Builder
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		fmt.Fprintf(&b, f, rw)
	}
	if strings.Contains(b.String(), "张三") {
		t.Errorf("printed row holds the name: %s", b.String())
	}
	noFullIDs(t, b.String())
}
