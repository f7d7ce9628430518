package roster_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"kioskd/kiosk/roster"
)

// longDigitRun reports whether s holds 15 or more digits in a row: what a
// message must never show, since it could be an ID number.
func longDigitRun(s string) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			if run++; run >= 15 {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// FuzzDecode feeds arbitrary bytes to the roster CSV decoder. It must not
// panic; every row it returns must hold a checked ID number, a name and a
// line number in order; ID numbers and codes must be unique; and no
// message, for the file or a row, may show a run of 15 digits.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(header + row(ids[0], "张三", "", "C1")))
	f.Add([]byte("\uFEFF" + header + row(ids[0], "张三", "已采集", "") + row(ids[0], "张三", "已采集", "")))
	f.Add([]byte("id_number,name,student_number,school,major,graduation_year,status\r\n" + stdExampleX + ",\"a\r\nb\",1,s,m,2026,rejected\r\n"))
	f.Add([]byte(header + "\"" + ids[1] + "\",\"=HYPERLINK(\"\"x\"\")\",1,2,3,2026,,\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := roster.Decode(strings.NewReader(string(data)))
		if err != nil {
			if d != nil {
				t.Fatalf("Decode returned rows with error %v", err)
			}
			if longDigitRun(err.Error()) {
				t.Fatalf("error shows a digit run: %q", err)
			}
			return
		}
		seenID, seenCode := map[string]bool{}, map[string]bool{}
		last := 1
		for _, r := range d.Rows {
			if got, err := roster.CheckIDNumber(r.IDNumber); err != nil || got != r.IDNumber {
				t.Fatalf("row at line %d: ID number not normalised or invalid: %v", r.Line, err)
			}
			if r.Name == "" || !utf8.ValidString(r.Name) || r.Line <= last {
				t.Fatalf("row %v: empty or invalid name, or line not after %d", r, last)
			}
			last = r.Line
			if seenID[r.IDNumber] || (r.Code != "" && seenCode[r.Code]) {
				t.Fatalf("row %v: duplicate ID number or code", r)
			}
			seenID[r.IDNumber], seenCode[r.Code] = true, true
			if _, err := roster.ParseStatus(string(r.Status)); err != nil {
				t.Fatalf("row %v: status %q", r, r.Status)
			}
		}
		for _, e := range append(append([]*roster.RowError(nil), d.Errors...), d.Warnings...) {
			if e.Line < 1 || longDigitRun(e.Error()) {
				t.Fatalf("row message line %d shows a digit run or has no line: %q", e.Line, e)
			}
		}
	})
}

// FuzzParseOperators feeds arbitrary bytes to the operators file parser:
// no panic, and what it accepts has unique, well-formed IDs and names.
func FuzzParseOperators(f *testing.F) {
	h := "pbkdf2-sha256$1000$c2FsdHNhbHRzYWx0c2FsdA$" + strings.Repeat("A", 43)
	f.Add([]byte("op01 " + h + " 王老师\n"))
	f.Add([]byte("# c\n\nop01\t" + h + "\tA B\nop02 " + h + " C\n"))
	f.Add([]byte("op01 " + h + "\n"))
	f.Add([]byte("op01 pbkdf2-sha256$99999999999999999999$x$y name\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ops, err := roster.ParseOperators(strings.NewReader(string(data)))
		if err != nil {
			if ops != nil {
				t.Fatal("ParseOperators returned operators with an error")
			}
			return
		}
		seen := map[string]bool{}
		for _, op := range ops.List() {
			if op.ID == "" || len(op.ID) > 32 || seen[op.ID] || op.Name == "" || !utf8.ValidString(op.Name) {
				t.Fatalf("accepted operator %q %q", op.ID, op.Name)
			}
			seen[op.ID] = true
		}
		if len(seen) == 0 {
			t.Fatal("accepted a file with no operators")
		}
	})
}

// FuzzCheckIDNumber: whatever is typed, an accepted number is 18 ASCII
// characters that pass again unchanged, and a refusal never echoes it.
func FuzzCheckIDNumber(f *testing.F) {
	for _, s := range []string{stdExampleX, "11010519491231002x", "110105491231002", "3.30102E+17", "１１０１０５１９４９１２３１００２ｘ", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := roster.CheckIDNumber(s)
		if err != nil {
			if got != "" || longDigitRun(err.Error()) {
				t.Fatalf("CheckIDNumber(%q) = %q, %v", s, got, err)
			}
			return
		}
		if len(got) != 18 || got[17] != roster.CheckDigit(got[:17]) {
			t.Fatalf("CheckIDNumber(%q) = %q", s, got)
		}
		if again, err := roster.CheckIDNumber(got); err != nil || again != got {
			t.Fatalf("CheckIDNumber(%q) is not stable: %q, %v", got, again, err)
		}
	})
}
