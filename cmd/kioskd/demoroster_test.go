package main

import (
	"bytes"
	"testing"

	"kioskd/kiosk/roster"
)

func TestDemoRosterImports(t *testing.T) {
	d, err := roster.Decode(bytes.NewReader(demoRosterCSV()))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Errors) != 0 || len(d.Rows) != len(demoStudents) {
		t.Fatalf("demo roster: %d rows, errors %v; want %d rows, none", len(d.Rows), d.Errors, len(demoStudents))
	}
	seen := map[string]bool{}
	for _, r := range d.Rows {
		if seen[r.IDNumber] {
			t.Errorf("demo ID number %s twice", r.Masked())
		}
		seen[r.IDNumber] = true
	}
}
