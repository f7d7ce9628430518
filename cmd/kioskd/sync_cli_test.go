package main

// End-to-end tests of the sync commands as an operator types them:
// `kioskd central` (and its add-station and import), `kioskd export` and
// `kioskd run -central`. Each drives Main.Run in this process, on
// 127.0.0.1:0 and temporary folders.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"kioskd/kiosk/queue"
	"kioskd/sync/bundle"
	"kioskd/sync/central"
	"kioskd/sync/uplink"
	"kioskd/sync/wire"
)

// cliStation is the station of these tests.
const cliStation = "booth-cli"

// tokenPattern is a station token: 32 bytes in unpadded base64url.
var tokenPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// runCLI runs a short kioskd command to its end and returns its exit code,
// its standard output, and its standard error followed by the message main
// would print for the error.
func runCLI(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	m, out, errOut := testMain(env)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	err := m.Run(ctx, args)
	var msg bytes.Buffer
	code = exitCode(&msg, err)
	return code, out.String(), errOut.String() + msg.String()
}

// startCommand runs a long-lived kioskd command (central, run, demo) and
// returns the address Main.Ready gave once it is up. stop cancels it and
// returns Run's error; the test's cleanup stops it too and waits, so the
// command never outlives the test's folders.
func startCommand(t *testing.T, args ...string) (addr string, stderr *syncBuffer, stop func() error) {
	t.Helper()
	m, _, errOut := testMain(nil)
	ready := make(chan net.Addr, 1)
	m.Ready = func(a net.Addr) { ready <- a }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, args) }() // ends when ctx is cancelled
	var (
		once   sync.Once
		runErr error
	)
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(15 * time.Second):
				runErr = fmt.Errorf("kioskd %v did not stop within 15 s of cancellation", args)
			}
		})
		return runErr
	}
	t.Cleanup(func() { stop() })
	select {
	case a := <-ready:
		return a.String(), errOut, stop
	case err := <-done:
		once.Do(func() { cancel(); runErr = err })
		t.Fatalf("kioskd %v exited before it was ready: %v\n%s", args, err, errOut)
	case <-time.After(20 * time.Second):
		t.Fatalf("kioskd %v not ready within 20 s\n%s", args, errOut)
	}
	return "", nil, nil
}

// addStationCLI registers station id at the central data folder dir with
// `kioskd central add-station` and writes its token to a new file of mode
// 0600, whose path it returns.
func addStationCLI(t *testing.T, dir, id string) (tokenFile string) {
	t.Helper()
	code, out, errOut := runCLI(t, nil, "central", "add-station", "-data", dir, id)
	if code != 0 {
		t.Fatalf("central add-station %s: exit %d\n%s", id, code, errOut)
	}
	tok := strings.TrimSpace(out)
	if !tokenPattern.MatchString(tok) {
		t.Fatalf("central add-station %s printed %q; want a 43-character base64url token", id, out)
	}
	tokenFile = filepath.Join(t.TempDir(), id+".token")
	if err := os.WriteFile(tokenFile, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return tokenFile
}

// openTestQueue opens the station queue in dir as the capture flow has it,
// with room to spare whatever the test machine's disk holds.
func openTestQueue(t *testing.T, dir string) *queue.Queue {
	t.Helper()
	q, err := queue.Open(dir, queue.Options{
		FreeSpace: func(string) (int64, error) { return 1 << 40, nil },
		Timeout:   5 * time.Second,
	})
	if err != nil {
		t.Fatalf("open the station queue: %v", err)
	}
	return q
}

// commitRecords saves n records of station in the queue folder dir as the
// capture flow would, and closes the queue again. The student is a made-up
// collection code; the photos are random bytes that start like a JPEG.
func commitRecords(t *testing.T, dir, station string, n int) []string {
	t.Helper()
	q := openTestQueue(t, dir)
	defer q.Close()
	ids := make([]string, 0, n)
	for i := range n {
		r, err := q.Commit(queue.NewRecord{
			StationID: station, Operator: "op01", IDNumber: fmt.Sprintf("CLI-%04d", i+1), Name: "测试",
			Spec: "chsi-graduation", Background: "replace",
			Fee:     queue.Fee{Yuan: 20, Method: "cash"},
			Consent: queue.Consent{Version: "2026-05", At: time.Now().UTC().Round(0)},
			Report:  json.RawMessage(`{"ready":true}`),
		}, jpegLike(t, 3000+i), jpegLike(t, 20000+i))
		if err != nil {
			t.Fatalf("commit record %d: %v", i, err)
		}
		ids = append(ids, r.ID)
	}
	return ids
}

// jpegLike returns n random bytes that start like a JPEG.
func jpegLike(t *testing.T, n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	copy(b, []byte{0xFF, 0xD8, 0xFF, 0xE0})
	return b
}

// queueRecords lists every record of the station queue in dir, by ID.
func queueRecords(t *testing.T, dir string) map[string]queue.Record {
	t.Helper()
	q := openTestQueue(t, dir)
	defer q.Close()
	rs, err := q.List("", 0)
	if err != nil {
		t.Fatalf("list the queue: %v", err)
	}
	out := make(map[string]queue.Record, len(rs))
	for _, r := range rs {
		out[r.ID] = r
	}
	return out
}

// centralRecords opens central's data folder dir (central must be stopped)
// and returns its records in server_seq order.
func centralRecords(t *testing.T, dir string) []central.StoredRecord {
	t.Helper()
	srv, err := central.Open(dir, central.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("open central's data: %v", err)
	}
	defer srv.Close()
	var out []central.StoredRecord
	if err := srv.Records(func(r central.StoredRecord) error {
		out = append(out, r)
		return nil
	}); err != nil {
		t.Fatalf("central records: %v", err)
	}
	return out
}

// onlyBundle returns the one finished bundle folder in dir.
func onlyBundle(t *testing.T, dir string) string {
	t.Helper()
	paths, err := bundle.List(dir)
	if err != nil {
		t.Fatalf("list bundles in the export folder: %v", err)
	}
	if len(paths) != 1 {
		t.Fatalf("the export folder holds bundles %q; want exactly one", paths)
	}
	return paths[0]
}

// emptyDir fails the test when dir holds anything.
func emptyDir(t *testing.T, dir, why string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) > 0 {
		names := make([]string, len(entries))
		for i, e := range entries {
			names[i] = e.Name()
		}
		t.Errorf("%s: the folder holds %q; want it untouched", why, names)
	}
}

// httpClient bounds every request of these tests.
var httpClient = &http.Client{Timeout: 5 * time.Second}

// waitFor polls cond every 100 ms until it holds, and fails the test after
// limit with the last state cond described.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v; last: %s", what, limit, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestCentralUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string // DATA is replaced by a fresh folder
		env  map[string]string
		want string // in the message
	}{
		{"plain HTTP off loopback", []string{"central", "-data", "DATA", "-listen", "0.0.0.0:0"}, nil,
			"not a loopback address"},
		{"plain HTTP off loopback from the environment", []string{"central", "-data", "DATA"},
			map[string]string{"KIOSK_CENTRAL_LISTEN": "192.0.2.7:8443"}, "-listen 192.0.2.7:8443 is not a loopback address"},
		{"host name that is not localhost", []string{"central", "-data", "DATA", "-listen", "central.example:8443"}, nil,
			"not a loopback address"},
		{"certificate without key", []string{"central", "-data", "DATA", "-tls-cert", "cert.pem"}, nil,
			"-tls-cert and -tls-key go together"},
		{"key without certificate", []string{"central", "-data", "DATA", "-tls-key", "key.pem"}, nil,
			"-tls-cert and -tls-key go together"},
		{"client CA without TLS", []string{"central", "-data", "DATA", "-client-ca", "ca.pem"}, nil,
			"-client-ca needs TLS"},
		{"stray argument", []string{"central", "-data", "DATA", "extra"}, nil, `unexpected argument "extra"`},
		{"unknown flag", []string{"central", "-data", "DATA", "-lisen", "127.0.0.1:0"}, nil, "-lisen"},
		{"add-station with a space in the ID", []string{"central", "add-station", "-data", "DATA", "booth 1"}, nil,
			`station ID "booth 1"`},
		{"add-station with a leading dot", []string{"central", "add-station", "-data", "DATA", ".booth"}, nil,
			`station ID ".booth"`},
		{"add-station with a 65-character ID", []string{"central", "add-station", "-data", "DATA", strings.Repeat("b", 65)}, nil,
			"1 to 64 letters"},
		{"add-station without an ID", []string{"central", "add-station", "-data", "DATA"}, nil, "name one station ID"},
		{"add-station with two IDs", []string{"central", "add-station", "-data", "DATA", "a", "b"}, nil, "name one station ID"},
		{"import without bundles", []string{"central", "import", "-data", "DATA"}, nil, "name the bundle folders"},
		{"export without -to", []string{"export", "-state-dir", "DATA"}, nil, "-to DIR"},
		{"demo central off loopback", []string{"demo", "-state-dir", "DATA", "-central-listen", "0.0.0.0:0"}, nil,
			"loopback address only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			args := make([]string, len(tc.args))
			for i, a := range tc.args {
				args[i] = strings.ReplaceAll(a, "DATA", dir)
			}
			code, _, msg := runCLI(t, tc.env, args...)
			if code != 2 {
				t.Fatalf("kioskd %q: exit %d; want 2 (a usage error)\n%s", tc.args, code, msg)
			}
			if !strings.Contains(msg, tc.want) {
				t.Errorf("kioskd %q: message %q does not contain %q", tc.args, msg, tc.want)
			}
			// A usage error is found before anything is written.
			emptyDir(t, dir, fmt.Sprintf("after kioskd %q", tc.args))
		})
	}
}

func TestCentralAddStation(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCLI(t, nil, "central", "add-station", "-data", dir, "lib-1")
	if code != 0 {
		t.Fatalf("add-station lib-1: exit %d\n%s", code, errOut)
	}
	if !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
		t.Errorf("add-station printed %q on stdout; want the token alone on one line", out)
	}
	tok := strings.TrimSpace(out)
	if !tokenPattern.MatchString(tok) {
		t.Fatalf("add-station printed %q; want a 43-character base64url token", tok)
	}
	if strings.Contains(errOut, tok) {
		t.Error("the token is on stderr too; it belongs on stdout only, printed once")
	}
	if !strings.Contains(errOut, "station lib-1 added") {
		t.Errorf("stderr does not confirm the station:\n%s", errOut)
	}

	stationsLines := func() []string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, central.StationsFile))
		if err != nil {
			t.Fatalf("read the stations file: %v", err)
		}
		var lines []string
		for l := range strings.Lines(string(b)) {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				lines = append(lines, l)
			}
		}
		return lines
	}
	sum := sha256.Sum256([]byte(tok))
	want := "lib-1 " + hex.EncodeToString(sum[:])
	if lines := stationsLines(); len(lines) != 1 || lines[0] != want {
		t.Errorf("stations file lists %q; want the one line %q (the ID and the token's SHA-256)", lines, want)
	}
	if st, err := os.Stat(filepath.Join(dir, central.StationsFile)); err != nil || st.Mode().Perm()&0o077 != 0 {
		t.Errorf("stations file: %v, mode %v; want it private to its owner", err, st.Mode())
	}

	code, out, errOut = runCLI(t, nil, "central", "add-station", "-data", dir, "lib-1")
	if code != 1 || !strings.Contains(errOut, "already") {
		t.Errorf("second add-station lib-1: exit %d, stdout %q, stderr %q; want exit 1 saying it is already there", code, out, errOut)
	}
	if tokenPattern.MatchString(strings.TrimSpace(out)) {
		t.Error("the refused add-station printed a token")
	}
	if lines := stationsLines(); len(lines) != 1 {
		t.Errorf("after the refused add, the stations file lists %q; want only the first line", lines)
	}

	// KIOSK_CENTRAL_DATA is -data's environment twin.
	envDir := filepath.Join(t.TempDir(), "central")
	code, out, errOut = runCLI(t, map[string]string{"KIOSK_CENTRAL_DATA": envDir}, "central", "add-station", "lib-2")
	if code != 0 || !tokenPattern.MatchString(strings.TrimSpace(out)) {
		t.Fatalf("add-station with KIOSK_CENTRAL_DATA: exit %d, %q\n%s", code, out, errOut)
	}
	if b, err := os.ReadFile(filepath.Join(envDir, central.StationsFile)); err != nil || !strings.HasPrefix(string(b), "lib-2 ") {
		t.Errorf("KIOSK_CENTRAL_DATA's stations file: %q, %v; want lib-2 listed", b, err)
	}
}

// TestSyncCLIFullPath takes records from a station's queue to central
// twice, by USB bundle and online, and checks central holds each once
// with the receipt the station kept.
func TestSyncCLIFullPath(t *testing.T) {
	const n = 3
	data, state, usb := t.TempDir(), t.TempDir(), t.TempDir()

	caddr, _, stopCentral := startCommand(t, "central", "-data", data, "-listen", "127.0.0.1:0")
	tokenFile := addStationCLI(t, data, cliStation)

	// The running central takes the new station at its next request.
	tok, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+caddr+"/v1/hello", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("GET /v1/hello: %v", err)
	}
	hello, err := wire.DecodeHello(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err != nil || hello.StationID != cliStation {
		t.Fatalf("GET /v1/hello with the new token = %s, %+v, %v; want 200 for %s", resp.Status, hello, err, cliStation)
	}

	ids := commitRecords(t, state, cliStation, n)

	// Export while central runs: export never talks to it.
	code, out, errOut := runCLI(t, nil, "export", "-to", usb, "-state-dir", state, "-station-id", cliStation, "-central-token-file", tokenFile)
	if code != 0 {
		t.Fatalf("export: exit %d\n%s", code, errOut)
	}
	path := onlyBundle(t, usb)
	if !strings.HasPrefix(filepath.Base(path), bundle.NamePrefix+cliStation+"-") {
		t.Errorf("bundle folder %s; want it named %s%s-TIME", path, bundle.NamePrefix, cliStation)
	}
	if want := fmt.Sprintf("%d records exported to %s", n, path); !strings.Contains(out, want) {
		t.Errorf("export printed %q; want %q", out, want)
	}
	for _, id := range ids {
		r := queueRecords(t, state)[id]
		if r.State != queue.StateQueued || r.ExportedAt.IsZero() {
			t.Errorf("after export, record %s is %s, exported at %v; want it still queued and marked exported", id, r.State, r.ExportedAt)
		}
	}
	if err := stopCentral(); err != nil {
		t.Errorf("central after cancellation = %v; want nil", err)
	}

	code, out, errOut = runCLI(t, nil, "central", "import", "-data", data, path)
	if want := fmt.Sprintf("%s: %d new, 0 already held", path, n); code != 0 || !strings.Contains(out, want) {
		t.Fatalf("first import: exit %d, %q; want %q\n%s", code, out, want, errOut)
	}
	code, out, errOut = runCLI(t, nil, "central", "import", "-data", data, path)
	if want := fmt.Sprintf("%s: 0 new, %d already held", path, n); code != 0 || !strings.Contains(out, want) {
		t.Fatalf("second import: exit %d, %q; want %q\n%s", code, out, want, errOut)
	}
	imported := centralRecords(t, data)
	if len(imported) != n {
		t.Fatalf("after two imports central holds %d records; want %d", len(imported), n)
	}

	// The network is back: the station uploads the same records online.
	caddr, _, stopCentral = startCommand(t, "central", "-data", data, "-listen", "127.0.0.1:0")
	saddr, stationLog, stopStation := startCommand(t, "run", "-central", "http://"+caddr, "-central-token-file", tokenFile,
		"-state-dir", state, "-station-id", cliStation, "-camera", "demo", "-listen", "127.0.0.1:0", "-analysis-rate", "0")
	waitFor(t, 20*time.Second, "the station's records accepted", func() (bool, string) {
		var st struct {
			Queue *struct {
				Counts map[string]int `json:"counts"`
			} `json:"queue"`
		}
		resp, err := httpClient.Get("http://" + saddr + "/api/status")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || st.Queue == nil {
			return false, fmt.Sprintf("status %s, queue %v, %v", resp.Status, st.Queue, err)
		}
		return st.Queue.Counts[string(queue.StateAccepted)] == n, fmt.Sprint(st.Queue.Counts)
	})
	// The station's /metrics tells the same story (the program wires the
	// worker's counters to it); the worker counts a record just after
	// marking it, so give it a moment.
	waitFor(t, 5*time.Second, "the sync metrics", func() (bool, string) {
		resp, err := httpClient.Get("http://" + saddr + "/metrics")
		if err != nil {
			return false, err.Error()
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{
			fmt.Sprintf("kioskd_sync_records_uploaded_total %d\n", n),
			"kioskd_sync_state{state=\"idle\"} 1\n",
			"kioskd_sync_seconds_since_success ",
		} {
			if !strings.Contains(string(b), want) {
				return false, fmt.Sprintf("no %q in\n%s", want, grepLines(string(b), "kioskd_sync_"))
			}
		}
		return true, ""
	})
	if err := stopStation(); err != nil {
		t.Errorf("station after cancellation = %v; want nil\n%s", err, stationLog)
	}
	if err := stopCentral(); err != nil {
		t.Errorf("central after cancellation = %v; want nil", err)
	}

	local := queueRecords(t, state)
	if len(local) != n {
		t.Errorf("the station's queue holds %d records; want %d", len(local), n)
	}
	held := map[string]int{}
	for _, s := range centralRecords(t, data) {
		id := s.Manifest.RecordID
		held[id]++
		r, ok := local[id]
		if !ok {
			t.Errorf("central holds record %s, which the station never saved", id)
			continue
		}
		if r.State != queue.StateAccepted {
			t.Errorf("record %s is %s at the station; want accepted", id, r.State)
		}
		if r.Receipt == "" || r.Receipt != s.Receipt.String() {
			t.Errorf("record %s: the station kept receipt %q; central's (from the import) is %q", id, r.Receipt, s.Receipt.String())
		}
		if r.ExportedAt.IsZero() {
			t.Errorf("record %s lost its export mark on upload", id)
		}
	}
	for _, id := range ids {
		if held[id] != 1 {
			t.Errorf("central holds record %s %d times; want once", id, held[id])
		}
	}
	if len(held) != n {
		t.Errorf("central holds %d records; want %d", len(held), n)
	}

	// Accepted records are central's: a later export has nothing to carry.
	usb2 := t.TempDir()
	code, out, errOut = runCLI(t, nil, "export", "-to", usb2, "-state-dir", state, "-station-id", cliStation, "-central-token-file", tokenFile)
	if code != 0 || !strings.Contains(out, "nothing to export") {
		t.Errorf("export after the upload: exit %d, %q; want exit 0 with nothing to export\n%s", code, out, errOut)
	}
	emptyDir(t, usb2, "after an export with nothing to carry")
}

func TestExportRefusals(t *testing.T) {
	data := t.TempDir()
	tokenFile := addStationCLI(t, data, cliStation)
	tok, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	openToken := filepath.Join(t.TempDir(), "open.token")
	if err := os.WriteFile(openToken, tok, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(openToken, 0o644); err != nil { // whatever the umask
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name  string
		token []string // the token flag, if any
		want  string   // in the message
	}{
		{"token file missing", []string{"-central-token-file", filepath.Join(t.TempDir(), "none.token")}, "none.token"},
		{"default token file missing", nil, "central.token"},
		{"token file readable by others", []string{"-central-token-file", openToken}, "chmod 600"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state, usb := t.TempDir(), t.TempDir()
			commitRecords(t, state, cliStation, 1)
			args := append([]string{"export", "-to", usb, "-state-dir", state}, tc.token...)
			code, _, msg := runCLI(t, nil, args...)
			if code != 1 {
				t.Fatalf("export without a usable token: exit %d; want 1\n%s", code, msg)
			}
			if !strings.Contains(msg, tc.want) || !strings.Contains(msg, "token") {
				t.Errorf("export without a usable token says %q; want it to name the token file (%q)", msg, tc.want)
			}
			emptyDir(t, usb, "after a refused export")
			for id, r := range queueRecords(t, state) {
				if !r.ExportedAt.IsZero() {
					t.Errorf("record %s marked exported by a refused export", id)
				}
			}
		})
	}

	t.Run("export folder missing", func(t *testing.T) {
		state := t.TempDir()
		commitRecords(t, state, cliStation, 1)
		to := filepath.Join(t.TempDir(), "no-stick")
		code, _, msg := runCLI(t, nil, "export", "-to", to, "-state-dir", state, "-central-token-file", tokenFile)
		if code != 1 || !strings.Contains(msg, "no-stick") {
			t.Errorf("export to a missing folder: exit %d, %q; want exit 1 naming the folder", code, msg)
		}
		if _, err := os.Stat(to); err == nil {
			t.Errorf("export made the missing folder %s; a mistyped stick path should not become a folder", to)
		}
		for id, r := range queueRecords(t, state) {
			if !r.ExportedAt.IsZero() {
				t.Errorf("record %s marked exported by a failed export", id)
			}
		}
	})

	t.Run("station running", func(t *testing.T) {
		state, usb := t.TempDir(), t.TempDir()
		commitRecords(t, state, cliStation, 1)
		q := openTestQueue(t, state) // holds queue.db's lock as kioskd run does
		defer q.Close()
		code, _, msg := runCLI(t, nil, "export", "-to", usb, "-state-dir", state, "-central-token-file", tokenFile)
		if code != 1 || !strings.Contains(msg, "stop kioskd first") {
			t.Errorf("export while the queue is held: exit %d, %q; want exit 1 saying to stop kioskd first", code, msg)
		}
		emptyDir(t, usb, "after a refused export")
	})
}

// TestExportSkipsOtherStationsRecords: a queue can hold records saved
// under an earlier station ID (the host was renamed, -station-id was set
// later). The uplink parks them; export must not let them block the USB
// fallback for the station's own records, which its token can seal.
func TestExportSkipsOtherStationsRecords(t *testing.T) {
	data, state, usb := t.TempDir(), t.TempDir(), t.TempDir()
	tokenFile := addStationCLI(t, data, cliStation)
	old := commitRecords(t, state, "old-name", 1)
	own := commitRecords(t, state, cliStation, 2)

	// KIOSK_STATION_ID names this station, as for kioskd run.
	env := map[string]string{"KIOSK_STATION_ID": cliStation}
	code, out, errOut := runCLI(t, env, "export", "-to", usb, "-state-dir", state, "-central-token-file", tokenFile)
	if code != 0 {
		t.Fatalf("export of a queue that also holds a record of an earlier station ID: exit %d; want 0, "+
			"exporting this station's %d records and skipping the other\n%s", code, len(own), errOut)
	}
	if !strings.Contains(out, fmt.Sprintf("%d records exported", len(own))) || !strings.Contains(errOut, old[0]) {
		t.Errorf("export printed %q, %q; want %d records exported and the skipped record %s named", out, errOut, len(own), old[0])
	}
	path := onlyBundle(t, usb)
	local := queueRecords(t, state)
	if !local[old[0]].ExportedAt.IsZero() {
		t.Errorf("the other station's record %s is marked exported", old[0])
	}
	for _, id := range own {
		if local[id].ExportedAt.IsZero() {
			t.Errorf("record %s is not marked exported", id)
		}
	}
	code, out, errOut = runCLI(t, nil, "central", "import", "-data", data, path)
	if want := fmt.Sprintf("%d new, 0 already held", len(own)); code != 0 || !strings.Contains(out, want) {
		t.Errorf("import of the export: exit %d, %q; want %q\n%s", code, out, want, errOut)
	}
}

func TestCentralImportRefusals(t *testing.T) {
	const n = 2
	data := t.TempDir()
	tokenA := addStationCLI(t, data, "booth-a")
	tokenB := addStationCLI(t, data, "booth-b")
	state := t.TempDir()
	ids := commitRecords(t, state, "booth-a", n)
	blobs := func() []string {
		var sums []string
		for _, r := range queueRecords(t, state) {
			sums = append(sums, r.Photo.SHA256, r.Original.SHA256)
		}
		return sums
	}()

	// booth-a's records sealed with booth-b's token: export cannot tell,
	// central must.
	usbWrong, usbGood := t.TempDir(), t.TempDir()
	if code, _, msg := runCLI(t, nil, "export", "-to", usbWrong, "-state-dir", state, "-station-id", "booth-a", "-central-token-file", tokenB); code != 0 {
		t.Fatalf("export with booth-b's token: exit %d\n%s", code, msg)
	}
	wrong := onlyBundle(t, usbWrong)
	if code, _, msg := runCLI(t, nil, "export", "-to", usbGood, "-state-dir", state, "-station-id", "booth-a", "-central-token-file", tokenA); code != 0 {
		t.Fatalf("export with booth-a's token: exit %d\n%s", code, msg)
	}
	good := onlyBundle(t, usbGood)

	code, out, msg := runCLI(t, nil, "central", "import", "-data", data, wrong)
	if code != 1 || !strings.Contains(msg, wrong) || !strings.Contains(msg, "another key") {
		t.Errorf("import of a bundle sealed with another station's token: exit %d, stdout %q, stderr %q; want exit 1 naming the bundle and the wrong key", code, out, msg)
	}
	if got := centralRecords(t, data); len(got) != 0 {
		t.Errorf("after the refused import central holds %d records; want none", len(got))
	}
	srv, err := central.Open(data, central.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, sum := range blobs {
		if srv.HasBlob(sum) {
			t.Errorf("after the refused import central holds blob %s", sum[:12])
		}
	}
	srv.Close()

	// Central running on the data folder holds its database.
	_, _, stopCentral := startCommand(t, "central", "-data", data, "-listen", "127.0.0.1:0")
	code, out, msg = runCLI(t, nil, "central", "import", "-data", data, good)
	if code != 1 || !strings.Contains(msg, "stop kioskd central first") {
		t.Errorf("import while central runs: exit %d, stdout %q, stderr %q; want exit 1 saying to stop central first", code, out, msg)
	}
	if err := stopCentral(); err != nil {
		t.Errorf("central after cancellation = %v; want nil", err)
	}

	// Once central is stopped, the good bundle goes in and the bad one is
	// still refused, alone.
	code, out, msg = runCLI(t, nil, "central", "import", "-data", data, wrong, good)
	if code != 1 || !strings.Contains(msg, "1 of 2 bundles failed") {
		t.Errorf("import of a bad and a good bundle: exit %d, %q; want exit 1 with one of two failed", code, msg)
	}
	if want := fmt.Sprintf("%s: %d new, 0 already held", good, n); !strings.Contains(out, want) {
		t.Errorf("import of a bad and a good bundle printed %q; want %q", out, want)
	}
	got := centralRecords(t, data)
	if len(got) != n {
		t.Fatalf("central holds %d records; want booth-a's %d", len(got), n)
	}
	for i, s := range got {
		if s.Manifest.StationID != "booth-a" || s.Manifest.RecordID != ids[i] {
			t.Errorf("central record %d is %s of %s; want %s of booth-a", i, s.Manifest.RecordID, s.Manifest.StationID, ids[i])
		}
	}
}

// TestCentralImportGoesOnPastARefusedRecord: a record central refuses
// (another manifest under its ID: 409) is reported, and the bundle's other
// records are still stored.
func TestCentralImportGoesOnPastARefusedRecord(t *testing.T) {
	data, state, usb := t.TempDir(), t.TempDir(), t.TempDir()
	tokenFile := addStationCLI(t, data, cliStation)
	ids := commitRecords(t, state, cliStation, 3)
	if code, _, msg := runCLI(t, nil, "export", "-to", usb, "-state-dir", state, "-station-id", cliStation, "-central-token-file", tokenFile); code != 0 {
		t.Fatalf("export: exit %d\n%s", code, msg)
	}
	path := onlyBundle(t, usb)

	// Central already holds another manifest under the second record's ID.
	q, err := queue.Open(state, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := q.Get(ids[1])
	if err != nil {
		t.Fatal(err)
	}
	m, photo, original, err := uplink.Manifest(q, rec)
	q.Close()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := central.Open(data, central.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{photo, original} {
		if _, err := srv.PutBlob(wire.SHA256(b), bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	m.Fee.Yuan++
	if _, _, err := srv.CommitRecord(cliStation, m); err != nil {
		t.Fatal(err)
	}
	srv.Close()

	code, out, errOut := runCLI(t, nil, "central", "import", "-data", data, path)
	if code != 1 || !strings.Contains(out, "2 new, 0 already held") || !strings.Contains(errOut, "refused "+ids[1]) {
		t.Errorf("import = exit %d, %q, %q; want exit 1, the two other records stored and %s reported refused", code, out, errOut, ids[1])
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
