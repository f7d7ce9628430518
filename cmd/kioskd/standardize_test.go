package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type stdOutput struct {
	File   string `json:"file"`
	Out    string `json:"out"`
	Error  string `json:"error"`
	Report *struct {
		OK      bool   `json:"ok"`
		Spec    string `json:"spec"`
		Mode    string `json:"mode"`
		Bytes   int    `json:"bytes"`
		DPI     int    `json:"dpi"`
		Refusal *struct {
			Code string `json:"code"`
		} `json:"refusal"`
	} `json:"report"`
}

func runStandardize(t *testing.T, env map[string]string, args ...string) ([]stdOutput, string, int) {
	t.Helper()
	m, stdout, stderr := testMain(env)
	var msg bytes.Buffer
	code := exitCode(&msg, m.Run(t.Context(), append([]string{"standardize"}, args...)))
	var out []stdOutput
	sc := bufio.NewScanner(strings.NewReader(stdout.String()))
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		var o stdOutput
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			t.Fatalf("output line is not JSON: %v\n%s", err, sc.Text())
		}
		out = append(out, o)
	}
	return out, stderr.String() + msg.String(), code
}

func TestStandardizeCommand(t *testing.T) {
	dir := t.TempDir()
	settled := demoStill(t, dir, 10*time.Second, false)

	// One input, one output file.
	outFile := filepath.Join(dir, "out", "photo.jpg")
	out, msg, code := runStandardize(t, nil, "-o", outFile, settled)
	if code != 0 || len(out) != 1 {
		t.Fatalf("exit %d, %d lines; want 0 and 1\n%s", code, len(out), msg)
	}
	if o := out[0]; o.Out != outFile || o.Report == nil || !o.Report.OK || o.Report.DPI != 300 || o.Report.Mode != "replace" {
		t.Errorf("report line %+v; want the file written with an OK 300 dpi report in replace mode", o)
	}
	b, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
	if err != nil || cfg.Width != 480 || cfg.Height != 640 {
		t.Errorf("%s is %dx%d (%v); want a 480x640 JPEG", outFile, cfg.Width, cfg.Height, err)
	}
	if len(b) > 40000 || len(b) != out[0].Report.Bytes {
		t.Errorf("file is %d bytes, report says %d; want the same, at most 40000", len(b), out[0].Report.Bytes)
	}
	if !strings.Contains(msg, "[1/1]") {
		t.Errorf("no progress line on stderr:\n%s", msg)
	}
}

func TestStandardizeSeveralAndRefused(t *testing.T) {
	dir := t.TempDir()
	settled := demoStill(t, dir, 10*time.Second, false)
	empty := demoStill(t, dir, 500*time.Millisecond, false)
	outDir := filepath.Join(dir, "photos")

	out, msg, code := runStandardize(t, map[string]string{"KIOSK_SPEC": "chsi-graduation", "KIOSK_O": "/must/not/be/used"}, "-o", outDir, settled, empty)
	if code != 2 {
		t.Errorf("exit %d; want 2 (the empty booth cannot be standardized)\n%s", code, msg)
	}
	if len(out) != 2 {
		t.Fatalf("%d lines; want 2", len(out))
	}
	if out[0].Out != filepath.Join(outDir, filepath.Base(strings.TrimSuffix(settled, ".jpg"))+".jpg") || out[0].Error != "" {
		t.Errorf("first line %+v; want it written into %s", out[0], outDir)
	}
	if o := out[1]; o.Out != "" || o.Error == "" || o.Report == nil || o.Report.Refusal == nil || o.Report.Refusal.Code != "no_face" {
		t.Errorf("empty booth line %+v; want no file and a no_face refusal", o)
	}
	entries, _ := os.ReadDir(outDir)
	if len(entries) != 1 {
		t.Errorf("%s holds %d files; want only the standardized one (no temporary leftovers)", outDir, len(entries))
	}
	if !strings.Contains(msg, "请") || !strings.Contains(msg, "[2/2]") {
		t.Errorf("stderr lacks the progress and the refusal's physical fix:\n%s", msg)
	}
}

func TestStandardizeBadInput(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.jpg")
	os.WriteFile(garbage, []byte("not a picture"), 0o644)
	file := filepath.Join(dir, "a-file.jpg")
	os.WriteFile(file, nil, 0o644)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-o", filepath.Join(dir, "x.jpg")}, 2, "at least one input"},
		{[]string{garbage}, 2, "-o OUT is required"},
		{[]string{"-o", filepath.Join(dir, "x.jpg"), garbage}, 1, "garbage.jpg"},
		{[]string{"-o", filepath.Join(dir, "x.jpg"), filepath.Join(dir, "missing.jpg")}, 1, "missing.jpg"},
		{[]string{"-o", file, garbage, garbage}, 2, "several inputs need a folder"},
		{[]string{"-o", dir, "-plate", filepath.Join(dir, "nope.jpg"), garbage}, 1, "clean plate"},
		{[]string{"-spec", "nope", "-o", dir, garbage}, 2, "-spec"},
		{[]string{"-o", dir, dir}, 1, "not a regular file"},
	} {
		_, msg, code := runStandardize(t, nil, tc.args...)
		if code != tc.code || !strings.Contains(msg, tc.want) {
			t.Errorf("standardize %v: exit %d, %q; want exit %d mentioning %q", tc.args, code, msg, tc.code, tc.want)
		}
	}
}
