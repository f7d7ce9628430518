package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kioskd/camera/demo"
	"kioskd/kiosk/photo"
)

// demoStill writes the demo scene's frame at time at (from the start of its
// loop) to dir as a JPEG, or as a PNG when asPNG.
func demoStill(t *testing.T, dir string, at time.Duration, asPNG bool) string {
	t.Helper()
	s := demo.NewScene()
	i := int(at * time.Duration(s.Frames()) / demo.LoopLength)
	f, err := s.Frame(i)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(dir, strings.ReplaceAll(at.String(), ".", "_")+".jpg")
	b := f.JPEG
	if asPNG {
		img, err := jpeg.Decode(bytes.NewReader(f.JPEG))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		b, name = buf.Bytes(), strings.TrimSuffix(name, ".jpg")+".png"
	}
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

type checkOutput struct {
	File   string `json:"file"`
	Error  string `json:"error"`
	Ready  *bool  `json:"ready"`
	Faces  int    `json:"faces"`
	Checks []struct {
		ID     string  `json:"id"`
		Status string  `json:"status"`
		Value  float64 `json:"value"`
		Hint   struct {
			Zh string `json:"zh"`
			En string `json:"en"`
		} `json:"hint"`
	} `json:"checks"`
	Geometry map[string]any `json:"geometry"`
}

func runCheck(t *testing.T, args ...string) ([]checkOutput, string, int) {
	t.Helper()
	m, stdout, stderr := testMain(nil)
	var msg bytes.Buffer
	code := exitCode(&msg, m.Run(t.Context(), append([]string{"check"}, args...)))
	var out []checkOutput
	sc := bufio.NewScanner(strings.NewReader(stdout.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var o checkOutput
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			t.Fatalf("output line is not JSON: %v\n%s", err, sc.Text())
		}
		out = append(out, o)
	}
	return out, stderr.String() + msg.String(), code
}

func TestCheckCommand(t *testing.T) {
	dir := t.TempDir()
	settled := demoStill(t, dir, 10*time.Second, false) // PhaseHold
	tilted := demoStill(t, dir, 6*time.Second, true)    // PhaseTilted, as PNG
	empty := demoStill(t, dir, 500*time.Millisecond, false)
	garbage := filepath.Join(dir, "garbage.jpg")
	os.WriteFile(garbage, []byte("\xff\xd8\xff\xe0 this is not a picture"), 0o644)
	missing := filepath.Join(dir, "missing.jpg")

	out, msg, code := runCheck(t, settled, garbage, tilted, missing, empty)
	if code != 1 {
		t.Errorf("exit %d; want 1 (two files unreadable)\n%s", code, msg)
	}
	if len(out) != 5 {
		t.Fatalf("%d output lines; want 5, one per file", len(out))
	}
	for i, want := range []string{settled, garbage, tilted, missing, empty} {
		if out[i].File != want {
			t.Errorf("line %d names %q; want %q (in argument order)", i, out[i].File, want)
		}
	}
	for _, bad := range []int{1, 3} {
		if out[bad].Error == "" || out[bad].Ready != nil {
			t.Errorf("line %d (%s): error %q, ready %v; want an error and no verdict", bad, out[bad].File, out[bad].Error, out[bad].Ready)
		}
		if !strings.Contains(msg, out[bad].File) {
			t.Errorf("stderr does not name the unreadable file %s:\n%s", out[bad].File, msg)
		}
	}

	status := func(o checkOutput, id string) string {
		for _, c := range o.Checks {
			if c.ID == id {
				return c.Status
			}
		}
		return "missing"
	}
	if o := out[0]; o.Ready == nil || !*o.Ready || o.Faces != 1 || len(o.Checks) != len(photo.CheckIDs) || o.Geometry == nil {
		t.Errorf("settled demo frame: ready %v, faces %d, %d checks; want ready, 1 face, %d checks and geometry", o.Ready, o.Faces, len(o.Checks), len(photo.CheckIDs))
	}
	if o := out[2]; o.Ready == nil || *o.Ready || status(o, "roll") != "fail" {
		t.Errorf("tilted demo frame (PNG): ready %v, roll %s; want not ready, roll fail", o.Ready, status(o, "roll"))
	} else {
		for _, c := range o.Checks {
			if c.ID == "roll" && (c.Hint.Zh == "" || c.Hint.En == "") {
				t.Errorf("roll fails without a hint in both languages: %+v", c.Hint)
			}
		}
	}
	if o := out[4]; o.Ready == nil || o.Faces != 0 || status(o, "face_count") != "fail" {
		t.Errorf("empty wall: faces %d, face_count %s; want 0 and fail", o.Faces, status(o, "face_count"))
	}
}

func TestCheckCommandUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "name at least one"},
		{[]string{"-spec", "passport-of-mars", "x.jpg"}, "-spec"},
		{[]string{"-background", "green", "x.jpg"}, "-background"},
		{[]string{"-rotate", "45", "x.jpg"}, "0, 90, 180 or 270"},
	} {
		_, msg, code := runCheck(t, tc.args...)
		if code != 2 || !strings.Contains(msg, tc.want) {
			t.Errorf("check %v: exit %d, %q; want exit 2 mentioning %q", tc.args, code, msg, tc.want)
		}
	}
}

func TestCheckSpecs(t *testing.T) {
	settled := demoStill(t, t.TempDir(), 10*time.Second, false)
	for _, id := range photo.SpecIDs() {
		out, msg, code := runCheck(t, "-spec", id, "-background", "keep", settled)
		if code != 0 || len(out) != 1 || out[0].Ready == nil {
			t.Errorf("check -spec %s: exit %d, %d lines; want exit 0 and a verdict\n%s", id, code, len(out), msg)
		}
	}
}
