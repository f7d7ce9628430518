package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"image/jpeg"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"kioskd/camera"
)

// syncBuffer is a bytes.Buffer safe for the logger and the test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testHome is HOME for the program under test, so that its default state
// folder (~/.local/state/kioskd) is a temporary one, never the user's.
var testHome string

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "kioskd-test-home-")
	if err != nil {
		panic(err)
	}
	testHome = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

func testMain(env map[string]string) (*Main, *syncBuffer, *syncBuffer) {
	var stdout, stderr syncBuffer
	return &Main{
		Stdout: &stdout,
		Stderr: &stderr,
		Getenv: func(k string) string {
			if v, ok := env[k]; ok || k != "HOME" {
				return v
			}
			return testHome
		},
	}, &stdout, &stderr
}

// startStation runs the real program on 127.0.0.1:0 and returns its address
// and a function that stops it and returns Run's error.
func startStation(t *testing.T, args []string, env map[string]string) (string, *syncBuffer, func() error) {
	t.Helper()
	m, _, stderr := testMain(env)
	ready := make(chan net.Addr, 1)
	m.Ready = func(a net.Addr) { ready <- a }
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, args) }()
	select {
	case a := <-ready:
		stop := func() error {
			cancel()
			select {
			case err := <-done:
				return err
			case <-time.After(10 * time.Second):
				t.Fatal("kioskd did not stop within 10 s of cancellation")
				return nil
			}
		}
		t.Cleanup(func() { cancel() })
		return a.String(), stderr, stop
	case err := <-done:
		cancel()
		t.Fatalf("kioskd %v exited before it was ready: %v\n%s", args, err, stderr)
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatalf("kioskd %v not ready within 20 s\n%s", args, stderr)
	}
	return "", nil, nil
}

func TestRunDemoEndToEnd(t *testing.T) {
	addr, stderr, stop := startStation(t, []string{"-listen", "127.0.0.1:0", "-camera", "demo"}, nil)

	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz = %s; want 200", resp.Status)
	}

	c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws", nil)
	if err != nil {
		t.Fatalf("dial /ws: %v", err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	frames := 0
	for frames < 5 {
		typ, b, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("after %d frames: read: %v", frames, err)
		}
		if typ != websocket.BinaryMessage {
			continue
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("frame %d is not a JPEG: %v", frames, err)
		}
		if cfg.Width != 1280 || cfg.Height != 720 {
			t.Errorf("demo frame is %dx%d; want 1280x720", cfg.Width, cfg.Height)
		}
		frames++
	}

	var status struct {
		Version string `json:"version"`
		Camera  struct {
			State  string `json:"state"`
			Source string `json:"source"`
		} `json:"camera"`
		Stats struct {
			FPS float64 `json:"fps"`
		} `json:"stats"`
	}
	resp, err = http.Get("http://" + addr + "/api/status")
	if err != nil {
		t.Fatalf("GET /api/status: %v", err)
	}
	err = json.NewDecoder(resp.Body).Decode(&status)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("decode /api/status: %v", err)
	}
	if status.Camera.Source != "demo" || status.Camera.State != "streaming" || status.Version == "" {
		t.Errorf("/api/status = %+v; want the demo camera streaming and a version", status)
	}

	resp, err = http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "kioskd_preview_fps") {
		t.Errorf("GET /metrics = %s, %d bytes; want 200 with kioskd_preview_fps", resp.Status, len(body))
	}

	if err := stop(); err != nil {
		t.Errorf("Run after cancellation = %v; want nil", err)
	}
	if log := stderr.String(); !strings.Contains(log, "demo camera") {
		t.Errorf("the log does not say the demo camera is used:\n%s", log)
	}
}

func TestRunAutoFallsBackToDemo(t *testing.T) {
	// This machine has no camera at the auto path (CI never has one).
	if err := camera.Probe(camera.AutoPath()); err == nil {
		t.Skip("a camera is present; the fallback cannot be seen here")
	}
	_, stderr, stop := startStation(t, []string{"-listen", "127.0.0.1:0"}, nil)
	if err := stop(); err != nil {
		t.Errorf("Run = %v; want nil", err)
	}
	if log := stderr.String(); !strings.Contains(log, "no camera found: using the demo camera") {
		t.Errorf("the log does not say that it fell back to the demo camera:\n%s", log)
	}
}

func TestEnvironmentTwins(t *testing.T) {
	m, _, _ := testMain(map[string]string{
		"KIOSK_LISTEN":        "127.0.0.1:9999",
		"KIOSK_CAMERA_SIZE":   "1280x720",
		"KIOSK_CAMERA_ROTATE": "90",
		"KIOSK_LOG_LEVEL":     "debug",
	})
	cfg, err := m.parseRun([]string{"-camera-rotate", "270"})
	if err != nil {
		t.Fatalf("parseRun: %v", err)
	}
	if cfg.listen != "127.0.0.1:9999" || cfg.cameraSize != (sizeValue{1280, 720}) || cfg.logLevel.String() != "DEBUG" {
		t.Errorf("environment not applied: %+v", cfg)
	}
	if cfg.rotate != 270 {
		t.Errorf("rotate = %d; the command line (270) must win over KIOSK_CAMERA_ROTATE (90)", cfg.rotate)
	}
}

func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		code int
		want string // in the message
	}{
		{"unknown flag", []string{"-camra", "demo"}, nil, 2, "flag provided but not defined: -camra"},
		{"unknown command", []string{"frobnicate"}, nil, 2, `unknown command "frobnicate"`},
		{"stray argument", []string{"run", "extra"}, nil, 2, `unexpected argument "extra"`},
		{"bad size flag", []string{"-camera-size", "big"}, nil, 2, "WIDTHxHEIGHT"},
		{"bad rotation env", nil, map[string]string{"KIOSK_CAMERA_ROTATE": "45"}, 2, `KIOSK_CAMERA_ROTATE="45"`},
		{"bad fps env", nil, map[string]string{"KIOSK_CAMERA_FPS": "fast"}, 2, "KIOSK_CAMERA_FPS"},
		{"bad log level", []string{"-log-level", "loud"}, nil, 2, "log-level"},
		{"missing device", []string{"-camera", "/dev/no-such-camera", "-listen", "127.0.0.1:0"}, nil, 1, "/dev/no-such-camera"},
		{"not a capture device", []string{"-camera", "/dev/null", "-listen", "127.0.0.1:0"}, nil, 1, "kioskd devices"},
		{"replay missing", []string{"-replay", "/no/such/folder", "-listen", "127.0.0.1:0"}, nil, 1, "/no/such/folder"},
		{"bad listen", []string{"-camera", "demo", "-listen", "nonsense"}, nil, 1, "-listen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _, stderr := testMain(tc.env)
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			err := m.Run(ctx, tc.args)
			var msg bytes.Buffer
			code := exitCode(&msg, err)
			if code != tc.code {
				t.Fatalf("kioskd %v: exit %d (%v); want %d\n%s", tc.args, code, err, tc.code, stderr)
			}
			if !strings.Contains(msg.String(), tc.want) {
				t.Errorf("kioskd %v: message %q does not contain %q", tc.args, msg.String(), tc.want)
			}
		})
	}
}

func TestListenAddressInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	m, _, _ := testMain(nil)
	err = m.Run(t.Context(), []string{"-camera", "demo", "-listen", l.Addr().String()})
	var msg bytes.Buffer
	if code := exitCode(&msg, err); code != 1 || !strings.Contains(msg.String(), "is another kioskd running") {
		t.Errorf("listen on a busy port: exit %d, %q; want exit 1 naming the cause", code, msg.String())
	}
}

func TestHelpAndVersion(t *testing.T) {
	m, stdout, _ := testMain(nil)
	if err := m.Run(t.Context(), []string{"help"}); err != nil {
		t.Fatalf("help: %v", err)
	}
	if !strings.Contains(stdout.String(), "devices") {
		t.Errorf("help does not list the devices command:\n%s", stdout)
	}
	m, _, stderr := testMain(nil)
	err := m.Run(t.Context(), []string{"run", "-h"})
	if !errors.Is(err, flag.ErrHelp) || exitCode(io.Discard, err) != 0 {
		t.Errorf("run -h = %v; want flag.ErrHelp and exit 0", err)
	}
	if !strings.Contains(stderr.String(), "KIOSK_CAMERA_SIZE") {
		t.Errorf("run -h does not name the environment twins:\n%s", stderr)
	}
	m, _, stderr = testMain(nil)
	err = m.Run(t.Context(), []string{"help", "standardize"})
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr.String(), "-background") {
		t.Errorf("help standardize = %v, printing\n%s\nwant standardize's flags", err, stderr)
	}
	m, _, _ = testMain(nil)
	err = m.Run(t.Context(), []string{"help", "nosuch"})
	var msg bytes.Buffer
	if code := exitCode(&msg, err); code != 2 || !strings.Contains(msg.String(), `unknown command "nosuch"`) {
		t.Errorf("help nosuch: exit %d, %q; want the usage error", code, msg.String())
	}
}

func TestDevicesCommand(t *testing.T) {
	m, stdout, _ := testMain(nil)
	if err := m.Run(t.Context(), []string{"devices"}); err != nil {
		t.Fatalf("devices: %v", err)
	}
	if stdout.String() == "" {
		t.Error("devices printed nothing; want the cameras or a message that there are none")
	}
}

func TestRunNotifiesSystemd(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _, stop := startStation(t, []string{"-listen", "127.0.0.1:0", "-camera", "demo"}, map[string]string{"NOTIFY_SOCKET": sock})
	read := func() string {
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 4096)
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no sd_notify datagram: %v", err)
		}
		return string(buf[:n])
	}
	if msg := read(); !strings.Contains(msg, "READY=1") {
		t.Errorf("first datagram %q; want READY=1", msg)
	}
	if err := stop(); err != nil {
		t.Errorf("Run = %v", err)
	}
	if msg := read(); !strings.Contains(msg, "STOPPING=1") {
		t.Errorf("datagram on shutdown %q; want STOPPING=1", msg)
	}
}
