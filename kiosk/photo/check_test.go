package photo_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"kioskd/kiosk/photo"
)

func newAnalyzer(tb testing.TB) *photo.Analyzer {
	tb.Helper()
	a, err := photo.NewAnalyzer()
	if err != nil {
		tb.Fatalf("NewAnalyzer: %v", err)
	}
	return a
}

// analyse renders, encodes (JPEG q85, 4:2:0) and analyses a scene.
func analyse(tb testing.TB, a *photo.Analyzer, s scene, mode photo.Background) photo.Analysis {
	tb.Helper()
	p, astro := fixtures(tb)
	an, err := a.AnalyzeBytes(encodeJPEG(tb, s.render(p, astro), 85), photo.Options{Background: mode})
	if err != nil {
		tb.Fatalf("AnalyzeBytes: %v", err)
	}
	return an
}

func summary(an photo.Analysis) string {
	var b strings.Builder
	for _, c := range an.Checks {
		fmt.Fprintf(&b, "%s=%s(%v) ", c.ID, c.Status, c.Value)
	}
	return b.String()
}

// TestChecks: each check fires on its own case, passes on the good frame,
// and does not fire on the other cases.
func TestChecks(t *testing.T) {
	a := newAnalyzer(t)
	for _, bc := range booths {
		t.Run(bc.name, func(t *testing.T) {
			s := goodScene()
			bc.edit(&s)
			an := analyse(t, a, s, bc.mode)
			if len(an.Checks) != len(photo.CheckIDs) {
				t.Fatalf("got %d checks; want %d", len(an.Checks), len(photo.CheckIDs))
			}
			for i, c := range an.Checks {
				if c.ID != photo.CheckIDs[i] {
					t.Errorf("check %d is %s; want %s", i, c.ID, photo.CheckIDs[i])
				}
				want := slices.Contains(bc.want, c.ID)
				switch {
				case want && c.Status == photo.StatusPass:
					t.Errorf("Check(%s) = pass (value %v, limit %v); want it to fire", c.ID, c.Value, c.Limit)
				case want && c.Hint == nil:
					t.Errorf("Check(%s) = %s without a hint", c.ID, c.Status)
				case !want && c.Status == photo.StatusSkip && bc.name == "no_face":
				case !want && c.Status == photo.StatusSkip && bc.name == "eyes_closed" &&
					(c.ID == photo.CheckRoll || c.ID == photo.CheckYaw || c.ID == photo.CheckPitch):
				case !want && c.Status != photo.StatusPass:
					t.Errorf("Check(%s) = %s (value %v, limit %v, %s); want pass", c.ID, c.Status, c.Value, c.Limit, c.Measure)
				}
			}
			if an.Ready != (len(bc.want) == 0) {
				t.Errorf("Ready = %v; want %v", an.Ready, len(bc.want) == 0)
			}
			if t.Failed() {
				t.Logf("%s\nmeasures %+v", summary(an), an.Measures)
			}
		})
	}
}
