package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kioskd/kiosk/roster"
)

const rosterCSV = `身份证号,姓名,学号,学校,专业,毕业年份,状态,采集码,驳回原因
330106200403150019,张三,2022010001,浙江示例大学,计算机科学与技术,2026,待采集,QR8K2M7Q1,
330106200403150018,坏号,2022010009,浙江示例大学,英语,2026,待采集,,
`

func TestOperatorCommand(t *testing.T) {
	m, stdout, _ := testMain(nil)
	m.Stdin = strings.NewReader("246810\n")
	if err := m.Run(t.Context(), []string{"operator", "op01", "王老师"}); err != nil {
		t.Fatalf("operator: %v", err)
	}
	line := stdout.String()
	if strings.Contains(line, "246810") || !strings.HasPrefix(line, "op01 pbkdf2-sha256$") || !strings.HasSuffix(line, " 王老师\n") {
		t.Fatalf("operator printed %q; want 'op01 <hash> 王老师' without the PIN", line)
	}
	ops, err := roster.ParseOperators(strings.NewReader(line))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ops.SignIn("op01", "246810"); err != nil {
		t.Errorf("the printed line does not sign in with its PIN: %v", err)
	}
	for _, tc := range []struct {
		args  []string
		stdin string
	}{
		{[]string{"operator", "op01"}, "246810\n"},
		{[]string{"operator", "op 01", "王老师"}, "246810\n"},
		{[]string{"operator", "op01", "王老师"}, ""},
		{[]string{"operator", "op01", "王老师"}, "12\n"},
		{[]string{"operator", "op01", "王老师"}, "abcdef\n"},
	} {
		m, _, _ := testMain(nil)
		m.Stdin = strings.NewReader(tc.stdin)
		var msg bytes.Buffer
		if code := exitCode(&msg, m.Run(t.Context(), tc.args)); code != 2 {
			t.Errorf("kioskd %v with stdin %q: exit %d (%s); want 2", tc.args, tc.stdin, code, msg.String())
		}
	}
}

func TestRosterImportCommand(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "roster.csv")
	os.WriteFile(csv, []byte(rosterCSV), 0o600)
	state := filepath.Join(dir, "state")
	m, stdout, stderr := testMain(nil)
	var msg bytes.Buffer
	code := exitCode(&msg, m.Run(t.Context(), []string{"roster", "import", "-state-dir", state, csv}))
	if code != 1 {
		t.Errorf("import with a bad row: exit %d; want 1\n%s%s", code, stderr, msg.String())
	}
	if !strings.Contains(stdout.String(), "1 added") || !strings.Contains(stderr.String(), "roster.csv") {
		t.Errorf("stdout %q, stderr %q; want 1 added and the bad row named", stdout, stderr)
	}
	if strings.Contains(stderr.String()+stdout.String()+msg.String(), "330106200403150018") {
		t.Error("a full ID number was printed")
	}
	r, err := roster.Open(state, roster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := r.IdentifyByID("330106200403150019", "张三"); err != nil || m.State != roster.StatusEligible {
		t.Errorf("after import: %+v, %v", m, err)
	}
	// While the roster is open (as by a running station) the import says
	// what to do.
	m2, _, _ := testMain(nil)
	msg.Reset()
	code = exitCode(&msg, m2.Run(t.Context(), []string{"roster", "import", "-state-dir", state, csv}))
	r.Close()
	if code != 1 || !strings.Contains(msg.String(), "stop kioskd first") {
		t.Errorf("import while the roster is held: exit %d, %q; want 1 and the fix", code, msg.String())
	}
	for _, args := range [][]string{{"roster"}, {"roster", "export"}, {"roster", "import"}} {
		m, _, _ := testMain(nil)
		if code := exitCode(&bytes.Buffer{}, m.Run(t.Context(), args)); code != 2 {
			t.Errorf("kioskd %v: exit %d; want 2", args, code)
		}
	}
}

func TestWindowFlag(t *testing.T) {
	var w windowValue
	if err := w.Set("2026-05-01/2026-06-30"); err != nil {
		t.Fatal(err)
	}
	if w.String() != "2026-05-01/2026-06-30" || w.End.Sub(w.Start).Hours() != 61*24 {
		t.Errorf("window %s spans %v; want 61 whole days", w.String(), w.End.Sub(w.Start))
	}
	for _, bad := range []string{"2026-05-01", "2026-06-30/2026-05-01", "soon/later", "2026-13-01/2026-14-01"} {
		if err := w.Set(bad); err == nil {
			t.Errorf("Set(%q) = nil; want an error", bad)
		}
	}
}
