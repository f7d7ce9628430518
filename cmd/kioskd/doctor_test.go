package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"kioskd/camera"
	"kioskd/kiosk"
	"kioskd/kiosk/queue"
)

// row is a check as the table prints it: its status and every line of
// text that belongs to it.
type row struct {
	status string
	text   string
}

// parseTable reads the doctor's table: a line starting in the first
// column opens a row (ID STATUS SUMMARY), indented lines continue it.
func parseTable(t *testing.T, out string) map[string]row {
	t.Helper()
	rows := make(map[string]row)
	var last string
	for i, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if i == 0 {
			if !strings.HasPrefix(line, "CHECK") {
				t.Fatalf("table header = %q; want CHECK STATUS ...", line)
			}
			continue
		}
		if strings.HasPrefix(line, " ") {
			if last == "" {
				t.Fatalf("continuation line before any row: %q", line)
			}
			r := rows[last]
			r.text += "\n" + strings.TrimSpace(line)
			rows[last] = r
			continue
		}
		f := strings.Fields(line)
		if len(f) < 3 {
			t.Fatalf("table row %q: want ID STATUS SUMMARY", line)
		}
		if _, dup := rows[f[0]]; dup {
			t.Fatalf("row %s printed twice:\n%s", f[0], out)
		}
		last = f[0]
		rows[last] = row{status: strings.ToLower(f[1]), text: strings.Join(f[2:], " ")}
	}
	return rows
}

// allChecks are the rows every report has, in order.
var allChecks = []string{"config", "clock", "state", "calibration", "store", "disk", "listener", "camera", "central"}

// runDoctor runs `kioskd doctor args` with env and the clock at now, and
// returns its exit code, its rows and its output.
func runDoctor(t *testing.T, args []string, env map[string]string, now time.Time) (int, map[string]row, string) {
	t.Helper()
	m, stdout, stderr := testMain(env)
	d := &doctor{Main: m, now: func() time.Time { return now }, frameTimeout: doctorFrameTimeout}
	err := d.run(t.Context(), args)
	var msg bytes.Buffer
	code := exitCode(&msg, err)
	if code == 1 && !errors.Is(err, errUnhealthy) {
		t.Fatalf("kioskd doctor %v = %v; want a report, not an error\n%s", args, err, stderr)
	}
	out := stdout.String()
	rows := parseTable(t, out)
	for _, id := range allChecks {
		if _, ok := rows[id]; !ok {
			t.Errorf("kioskd doctor %v: no %s row:\n%s", args, id, out)
		}
	}
	if code == 1 && !strings.Contains(msg.String(), "checks failed") {
		t.Errorf("exit message %q does not say that checks failed", msg.String())
	}
	return code, rows, out
}

// baseArgs is a healthy setup: the demo camera, a fresh state folder,
// a free port and a floor any test machine's disk clears.
func baseArgs(t *testing.T) []string {
	return []string{"-camera", "demo", "-listen", "127.0.0.1:0", "-state-dir", filepath.Join(t.TempDir(), "state"), "-min-free", "1MiB"}
}

// today is a plausible clock for the tests that are not about the clock.
var today = time.Date(2026, 6, 20, 9, 30, 0, 0, time.UTC)

func TestDoctorHealthy(t *testing.T) {
	args := baseArgs(t)
	stateDir := args[5]
	code, rows, out := runDoctor(t, args, nil, today)
	if code != 0 {
		t.Fatalf("healthy setup: exit %d; want 0\n%s", code, out)
	}
	want := map[string]string{
		"config": "pass", "clock": "pass", "state": "pass", "calibration": "pass",
		"disk": "pass", "listener": "pass", "camera": "warn", "central": "skip",
	}
	for id, status := range want {
		if got := rows[id].status; got != status {
			t.Errorf("%s = %s; want %s\n%s", id, got, status, out)
		}
	}
	if !strings.Contains(rows["camera"].text, "no camera: the station runs the demo camera") {
		t.Errorf("camera row %q does not say the demo camera runs", rows["camera"].text)
	}
	for _, l := range []string{"修复：", "fix: "} {
		if !strings.Contains(rows["camera"].text, l) {
			t.Errorf("camera warning has no %q line:\n%s", l, out)
		}
	}
	// The folder could be made; the doctor proved it and took it away.
	if _, err := os.Stat(stateDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after the doctor, %s: %v; want it left absent as found", stateDir, err)
	}
}

func TestDoctorLeavesExistingStateAlone(t *testing.T) {
	dir := t.TempDir()
	keep := filepath.Join(dir, "keep.txt")
	if err := os.WriteFile(keep, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append(baseArgs(t), "-state-dir", dir)
	code, rows, out := runDoctor(t, args, nil, today)
	if code != 0 || rows["state"].status != "pass" {
		t.Fatalf("existing state folder: exit %d, state %s; want 0, pass\n%s", code, rows["state"].status, out)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 || entries[0].Name() != "keep.txt" {
		t.Errorf("state folder after the doctor holds %v (%v); want only keep.txt", entries, err)
	}
}

// writeCalibration writes a calibration as kiosk saves it, with a clean
// plate of w x h, and returns the folder.
func writeCalibration(t *testing.T, jsonText string, w, h int) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "calibration.json"), []byte(jsonText), 0o600); err != nil {
		t.Fatal(err)
	}
	if w > 0 {
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		for i := range img.Pix {
			img.Pix[i] = 200
		}
		img.Set(1, 1, color.RGBA{100, 197, 255, 255})
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, nil); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "clean-plate.jpg"), b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const goodCalibration = `{"time":"2026-06-01T08:00:00Z","wall":{"rgb":[200,200,200],"lab":[80,0,0],"spread":1},"width":64,"height":48,"rotation":0}`

func TestDoctorCalibration(t *testing.T) {
	for _, tc := range []struct {
		name   string
		dir    func(t *testing.T) string
		status string
		want   string
	}{
		{"sound", func(t *testing.T) string { return writeCalibration(t, goodCalibration, 64, 48) }, "pass", "64x48"},
		{"not json", func(t *testing.T) string { return writeCalibration(t, `{"time": "2026-`, 64, 48) }, "fail", "calibration.json"},
		{"wall of the wrong type", func(t *testing.T) string {
			return writeCalibration(t, strings.Replace(goodCalibration, `[200,200,200]`, `"grey"`, 1), 64, 48)
		}, "fail", "calibration.json"},
		{"plate missing", func(t *testing.T) string { return writeCalibration(t, goodCalibration, 0, 0) }, "fail", "clean-plate.jpg"},
		{"plate of another size", func(t *testing.T) string { return writeCalibration(t, goodCalibration, 32, 48) }, "fail", "32x48"},
		{"plate not a JPEG", func(t *testing.T) string {
			dir := writeCalibration(t, goodCalibration, 64, 48)
			if err := os.WriteFile(filepath.Join(dir, "clean-plate.jpg"), []byte("\xff\xd8 cut short"), 0o600); err != nil {
				t.Fatal(err)
			}
			return dir
		}, "fail", "clean-plate.jpg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir(t)
			before := snapshot(t, dir)
			code, rows, out := runDoctor(t, append(baseArgs(t), "-state-dir", dir), nil, today)
			r := rows["calibration"]
			if r.status != tc.status || !strings.Contains(r.text, tc.want) {
				t.Errorf("calibration = %s %q; want %s mentioning %q\n%s", r.status, r.text, tc.status, tc.want, out)
			}
			if wantCode := map[string]int{"pass": 0, "fail": 1}[tc.status]; code != wantCode {
				t.Errorf("exit %d; want %d", code, wantCode)
			}
			if after := snapshot(t, dir); after != before {
				t.Errorf("the doctor changed the calibration files:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// snapshot describes every file in dir with its contents.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		fmt.Fprintf(&b, "%s:%x ", e.Name(), data)
	}
	return b.String()
}

func TestDoctorFailures(t *testing.T) {
	// A port held by something that is not kioskd: it accepts and never answers.
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	// A file where the state folder, or a folder above it, should be.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		args []string // after the healthy ones: a later flag wins
		env  map[string]string
		now  time.Time
		id   string // the row that fails
		want string // in that row's text
	}{
		{"missing camera", []string{"-camera", "/dev/no-such-camera"}, nil, today, "camera", "/dev/no-such-camera"},
		{"not a camera", []string{"-camera", "/dev/null"}, nil, today, "camera", "not a video capture device"},
		{"replay missing", []string{"-replay", "/no/such/recording"}, nil, today, "camera", "/no/such/recording"},
		{"state folder is a file", []string{"-state-dir", file}, nil, today, "state", "a file is in the way"},
		{"state folder below a file", []string{"-state-dir", filepath.Join(file, "state")}, nil, today, "state", "is not a folder"},
		{"disk below the floor", []string{"-min-free", "1000PiB"}, nil, today, "disk", "1000PiB"},
		{"bad environment value", nil, map[string]string{"KIOSK_CAMERA_ROTATE": "45"}, today, "config", `KIOSK_CAMERA_ROTATE="45"`},
		{"bad environment duration", nil, map[string]string{"KIOSK_HOLD": "forever"}, today, "config", "KIOSK_HOLD"},
		{"value out of range", nil, map[string]string{"KIOSK_DEMO_FPS": "100"}, today, "config", "-demo-fps"},
		{"unknown template", nil, map[string]string{"KIOSK_SPEC": "visa"}, today, "config", "-spec"},
		{"port held", []string{"-listen", held.Addr().String()}, nil, today, "listener", "ss -ltnp"},
		{"bad listen address", []string{"-listen", "nonsense"}, nil, today, "listener", "-listen"},
		{"clock in 1970", nil, nil, time.Unix(0, 0), "clock", "timedatectl"},
		{"clock after 2100", nil, nil, time.Date(2150, 1, 1, 0, 0, 0, 0, time.UTC), "clock", "after 2100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(baseArgs(t), tc.args...)
			code, rows, out := runDoctor(t, args, tc.env, tc.now)
			if code != 1 {
				t.Errorf("exit %d; want 1\n%s", code, out)
			}
			r := rows[tc.id]
			if r.status != "fail" || !strings.Contains(r.text, tc.want) {
				t.Errorf("%s = %s %q; want fail mentioning %q\n%s", tc.id, r.status, r.text, tc.want, out)
			}
			if !strings.Contains(r.text, "修复：") || !strings.Contains(r.text, "fix: ") {
				t.Errorf("%s fails without a fix in both languages:\n%s", tc.id, out)
			}
			// One fault fails one row: the others judge the healthy rest.
			for id, o := range rows {
				if id != tc.id && o.status == "fail" {
					t.Errorf("%s also fails: %q\n%s", id, o.text, out)
				}
			}
		})
	}
}

// The floor has its KIOSK_MIN_FREE twin, judged like any setting.
func TestDoctorFloorFromEnvironment(t *testing.T) {
	args := []string{"-camera", "demo", "-listen", "127.0.0.1:0", "-state-dir", t.TempDir()}
	for _, tc := range []struct {
		value, id, want string
	}{
		{"1000PiB", "disk", "fail"},
		{"lots", "config", "fail"},
		{"1KiB", "disk", "pass"},
	} {
		_, rows, out := runDoctor(t, args, map[string]string{"KIOSK_MIN_FREE": tc.value}, today)
		if r := rows[tc.id]; r.status != tc.want {
			t.Errorf("KIOSK_MIN_FREE=%s: %s = %s; want %s\n%s", tc.value, tc.id, r.status, tc.want, out)
		}
	}
}

func TestDoctorDiskWarnsBelowTwiceTheFloor(t *testing.T) {
	dir := t.TempDir()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	free := st.Bavail * uint64(st.Bsize)
	if free < 1<<20 {
		t.Skipf("only %d bytes free", free)
	}
	// Two thirds of the free space: clear of the floor, not of twice it,
	// with room for other programs writing meanwhile.
	floor := strconv.FormatUint(free/3*2, 10)
	_, rows, out := runDoctor(t, append(baseArgs(t), "-state-dir", dir, "-min-free", floor), nil, today)
	if r := rows["disk"]; r.status != "warn" {
		t.Errorf("disk with a floor of 2/3 of the free space = %s; want warn\n%s", r.status, out)
	}
}

func TestDoctorSeesRunningKioskd(t *testing.T) {
	// The real station, as the service would be running.
	addr, _, stop := startStation(t, []string{"-listen", "127.0.0.1:0", "-camera", "demo"}, nil)
	defer stop()
	code, rows, out := runDoctor(t, append(baseArgs(t), "-listen", addr), nil, today)
	if r := rows["listener"]; code != 0 || r.status != "pass" || !strings.Contains(r.text, "kioskd is running") {
		t.Errorf("port held by kioskd: exit %d, listener %s %q; want 0, pass, kioskd is running\n%s", code, r.status, r.text, out)
	}
	// Something else answering /healthz with another body is not kioskd.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<html>router login</html>")
	}))
	defer srv.Close()
	_, rows, out = runDoctor(t, append(baseArgs(t), "-listen", srv.Listener.Addr().String()), nil, today)
	if r := rows["listener"]; r.status != "fail" {
		t.Errorf("port held by another web server: listener %s; want fail\n%s", r.status, out)
	}
}

func TestDoctorAutoWithoutCamera(t *testing.T) {
	if err := camera.Probe(camera.AutoPath()); err == nil {
		t.Skip("a camera is present")
	}
	args := append(baseArgs(t), "-camera", "auto")
	code, rows, out := runDoctor(t, args, nil, today)
	if r := rows["camera"]; code != 0 || r.status != "warn" || !strings.Contains(r.text, "no camera: the station runs the demo camera") {
		t.Errorf("auto without a camera: exit %d, camera %s %q; want 0 and the demo warning\n%s", code, r.status, r.text, out)
	}
}

func TestDoctorJSON(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra []string
		ok    bool
	}{
		{"healthy", nil, true},
		{"broken", []string{"-camera", "/dev/no-such-camera"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, stdout, _ := testMain(nil)
			d := &doctor{Main: m, now: func() time.Time { return today }, frameTimeout: doctorFrameTimeout}
			err := d.run(t.Context(), append(append(baseArgs(t), "-json"), tc.extra...))
			if (err == nil) != tc.ok {
				t.Errorf("doctor -json = %v; want ok %v", err, tc.ok)
			}
			var rep struct {
				OK     bool `json:"ok"`
				Checks []struct {
					ID      string            `json:"id"`
					Status  string            `json:"status"`
					Summary map[string]string `json:"summary"`
					Detail  string            `json:"detail"`
					Fix     map[string]string `json:"fix"`
				} `json:"checks"`
			}
			dec := json.NewDecoder(strings.NewReader(stdout.String()))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&rep); err != nil {
				t.Fatalf("doctor -json output does not parse: %v\n%s", err, stdout)
			}
			if rep.OK != tc.ok {
				t.Errorf("ok = %v; want %v", rep.OK, tc.ok)
			}
			var ids []string
			for _, c := range rep.Checks {
				ids = append(ids, c.ID)
				switch c.Status {
				case "pass", "warn", "fail", "skip":
				default:
					t.Errorf("%s: status %q outside pass|warn|fail|skip", c.ID, c.Status)
				}
				if c.Summary["zh"] == "" || c.Summary["en"] == "" {
					t.Errorf("%s: summary %v; want zh and en", c.ID, c.Summary)
				}
				if (c.Status == "warn" || c.Status == "fail") && (c.Fix["zh"] == "" || c.Fix["en"] == "") {
					t.Errorf("%s %s without a fix in both languages: %v", c.ID, c.Status, c.Fix)
				}
				if c.ID == "camera" && (c.Status == "fail") == tc.ok {
					t.Errorf("camera %s in the %s setup", c.Status, tc.name)
				}
			}
			if got, want := strings.Join(ids, ","), strings.Join(allChecks, ","); got != want {
				t.Errorf("checks %s; want %s", got, want)
			}
		})
	}
}

func TestDoctorUsage(t *testing.T) {
	for _, args := range [][]string{{"-no-such-flag"}, {"extra"}, {"-camera-size", "big"}} {
		m, _, _ := testMain(nil)
		err := m.Run(t.Context(), append([]string{"doctor"}, args...))
		if code := exitCode(io.Discard, err); code != 2 {
			t.Errorf("kioskd doctor %v: exit %d (%v); want 2, a usage error", args, code, err)
		}
	}
	m, _, stderr := testMain(nil)
	if err := m.Run(t.Context(), []string{"doctor", "-h"}); exitCode(io.Discard, err) != 0 {
		t.Errorf("doctor -h = %v; want exit 0", err)
	}
	for _, want := range []string{"-json", "KIOSK_MIN_FREE", "KIOSK_CAMERA"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("doctor -h does not list %s:\n%s", want, stderr)
		}
	}
}

// The doctor reads the same settings as run: every flag of run is one of
// the doctor's.
func TestDoctorSharesRunFlags(t *testing.T) {
	m, _, runHelp := testMain(nil)
	m.Run(t.Context(), []string{"run", "-h"})
	m, _, docHelp := testMain(nil)
	m.Run(t.Context(), []string{"doctor", "-h"})
	n := 0
	for line := range strings.Lines(runHelp.String()) {
		if name, ok := strings.CutPrefix(strings.TrimSpace(line), "environment: "); ok {
			n++
			if !strings.Contains(docHelp.String(), "environment: "+name+"\n") {
				t.Errorf("kioskd doctor lacks run's setting %s", name)
			}
		}
	}
	if n < 10 {
		t.Fatalf("run -h lists %d settings; its format changed?\n%s", n, runHelp)
	}
}

func TestFirstFrameSink(t *testing.T) {
	for _, tc := range []struct {
		name     string
		feed     func(s *firstFrameSink)
		done     bool
		got      bool
		busy     bool
		wantSize string
	}{
		{"frame", func(s *firstFrameSink) {
			s.SetCameraStatus(kiosk.CameraStatus{State: kiosk.CameraStreaming, Format: "MJPG"})
			s.PutFrame(kiosk.Frame{Seq: 7, Width: 640, Height: 480, JPEG: []byte{1}})
			s.PutFrame(kiosk.Frame{Seq: 8, Width: 1, Height: 1})
		}, true, true, false, "640x480"},
		{"busy", func(s *firstFrameSink) {
			s.SetCameraStatus(kiosk.CameraStatus{State: kiosk.CameraBusy, Reason: camera.ReasonBusy})
		}, true, false, true, "0x0"},
		{"reconnecting", func(s *firstFrameSink) {
			s.SetCameraStatus(kiosk.CameraStatus{State: kiosk.CameraReconnecting, Reason: camera.ReasonUnplugged})
		}, false, false, false, "0x0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := false
			s := &firstFrameSink{done: func() { done = true }}
			tc.feed(s)
			p := s.result()
			if size := fmt.Sprintf("%dx%d", p.frame.Width, p.frame.Height); done != tc.done || p.got != tc.got || p.busy != tc.busy || size != tc.wantSize {
				t.Errorf("done %v, got %v, busy %v, size %s; want %v, %v, %v, %s", done, p.got, p.busy, size, tc.done, tc.got, tc.busy, tc.wantSize)
			}
			if p.frame.JPEG != nil {
				t.Error("the sink kept the frame's bytes")
			}
		})
	}
}

func TestByteSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		str  string
	}{
		{"1GiB", 1 << 30, "1GiB"},
		{"500MiB", 500 << 20, "500MiB"},
		{"2G", 2 << 30, "2GiB"},
		{"2GB", 2e9, "1.9GiB"},
		{"1.5gib", 3 << 29, "1.5GiB"},
		{"4096", 4096, "4KiB"},
		{"100", 100, "100B"},
		{"0", 0, "0B"},
		{"1000PiB", 1000 << 50, "1000PiB"},
	} {
		var b byteSize
		if err := b.Set(tc.in); err != nil {
			t.Errorf("Set(%q) = %v", tc.in, err)
			continue
		}
		if uint64(b) != tc.want || b.String() != tc.str {
			t.Errorf("Set(%q) = %d %q; want %d %q", tc.in, uint64(b), b.String(), tc.want, tc.str)
		}
	}
	for _, bad := range []string{"", "lots", "NaN", "Inf", "-1GiB", "1XB", "GiB", "9999999EiB", "100000PiB"} {
		var b byteSize
		if err := b.Set(bad); err == nil {
			t.Errorf("Set(%q) = nil (%d); want an error", bad, uint64(b))
		}
	}
}

func TestDoctorStore(t *testing.T) {
	args := baseArgs(t)
	stateDir := args[5]
	q, err := queue.Open(stateDir, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	photo := bytes.Repeat([]byte{0xFF, 0xD8, 0xFF, 0xE0}, 100)
	rec, err := q.Commit(queue.NewRecord{StationID: "s", IDNumber: "330106200403150019", Name: "张三", Spec: "chsi-graduation", Background: "replace",
		Fee: queue.Fee{Yuan: 30, Method: "cash"}, Consent: queue.Consent{Version: "v1", At: today}}, photo, append(photo, 1))
	if err != nil {
		t.Fatal(err)
	}

	// Held by a station (here: this test): the doctor cannot look.
	_, rows, out := runDoctor(t, args, nil, today)
	if s := rows["store"].status; s != "warn" && s != "skip" {
		t.Errorf("store held by another process = %s; want warn or skip\n%s", s, out)
	}
	q.Close()

	code, rows, out := runDoctor(t, args, nil, today)
	if code != 0 || rows["store"].status != "pass" || !strings.Contains(rows["store"].text, "1 queued") {
		t.Errorf("healthy store: exit %d, store %+v\n%s", code, rows["store"], out)
	}

	// A damaged photo blob fails the row; the files are left as they are.
	blob := filepath.Join(stateDir, queue.BlobDir, rec.Photo.SHA256)
	b, err := os.ReadFile(blob)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 0xFF
	os.WriteFile(blob, b, 0o600)
	code, rows, out = runDoctor(t, args, nil, today)
	if code != 1 || rows["store"].status != "fail" || !strings.Contains(rows["store"].text, rec.ID) {
		t.Errorf("damaged blob: exit %d, store %+v; want fail naming the record\n%s", code, rows["store"], out)
	}
	if after, _ := os.ReadFile(blob); !bytes.Equal(after, b) {
		t.Error("the doctor changed the damaged blob")
	}
}
