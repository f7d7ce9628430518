package roster_test

import (
	"os"
	"strings"
	"testing"

	"kioskd/kiosk/roster"
)

// TestDocExamples checks the examples printed in docs/roster.md (copied
// into testdata) against the code.
func TestDocExamples(t *testing.T) {
	f, err := os.Open("testdata/example.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := roster.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	want := []roster.Status{roster.StatusEligible, roster.StatusCollectedOnline, roster.StatusRejected, roster.StatusApproved}
	if len(d.Rows) != len(want) || len(d.Errors) != 0 || len(d.Warnings) != 0 {
		t.Fatalf("example: %d rows, errors %v, warnings %v; want %d clean rows", len(d.Rows), d.Errors, d.Warnings, len(want))
	}
	for i, w := range want {
		if d.Rows[i].Status != w {
			t.Errorf("example row %d status = %s; want %s", i, d.Rows[i].Status, w)
		}
	}
	if d.Rows[2].Reason != "背景不是浅蓝色" || d.Rows[0].Code != "QR8K2M7Q1" {
		t.Errorf("example reason/code = %q %q", d.Rows[2].Reason, d.Rows[0].Code)
	}

	// The file mode is not kept by every checkout: parse the bytes.
	b, err := os.ReadFile("testdata/operators.example")
	if err != nil {
		t.Fatal(err)
	}
	ops, err := roster.ParseOperators(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if testing.Short() {
		return
	}
	if op, err := ops.SignIn("op01", "135790"); err != nil || op.Name != "王老师" {
		t.Errorf("example operator SignIn = %+v, %v", op, err)
	}
	if _, err := ops.SignIn("op01", "135791"); err == nil {
		t.Error("example operator accepts a wrong PIN")
	}
}
