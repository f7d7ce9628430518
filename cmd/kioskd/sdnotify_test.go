package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// notifySocket listens on a unixgram socket as systemd does: a path in a
// short temporary folder (socket paths are limited to 108 bytes), or an
// abstract name when abstract is true. It returns the NOTIFY_SOCKET value.
func notifySocket(t *testing.T, abstract bool) (string, *net.UnixConn) {
	t.Helper()
	var name string
	if abstract {
		name = fmt.Sprintf("@kioskd-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	} else {
		dir, err := os.MkdirTemp("", "sdn")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		name = filepath.Join(dir, "notify")
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen %s: %v", name, err)
	}
	t.Cleanup(func() { conn.Close() })
	return name, conn
}

// datagrams reads what arrived on conn until none comes for wait.
func datagrams(t *testing.T, conn *net.UnixConn, wait time.Duration) []string {
	t.Helper()
	var got []string
	buf := make([]byte, 4096)
	for {
		conn.SetReadDeadline(time.Now().Add(wait))
		n, err := conn.Read(buf)
		if err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("read notify socket: %v", err)
			}
			return got
		}
		got = append(got, string(buf[:n]))
	}
}

func sdEnv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestSDNotifySends(t *testing.T) {
	for _, abstract := range []bool{false, true} {
		t.Run(fmt.Sprintf("abstract=%v", abstract), func(t *testing.T) {
			sock, conn := notifySocket(t, abstract)
			n := NewSDNotifier(sdEnv(map[string]string{"NOTIFY_SOCKET": sock}), os.Getpid())
			if !n.Enabled() {
				t.Fatalf("Enabled() = false with NOTIFY_SOCKET=%s", sock)
			}
			steps := []struct {
				send func() error
				want string
			}{
				{func() error { return n.Ready("") }, "READY=1\n"},
				{func() error { return n.Ready("camera streaming,\nlistening on 127.0.0.1:8080") },
					"READY=1\nSTATUS=camera streaming, listening on 127.0.0.1:8080\n"},
				{func() error { return n.Status("reconnecting the camera") }, "STATUS=reconnecting the camera\n"},
				{func() error { return n.Stopping("saving the queue") }, "STOPPING=1\nSTATUS=saving the queue\n"},
				{func() error { return n.Notify("WATCHDOG=1") }, "WATCHDOG=1\n"},
				{func() error { return n.Notify() }, ""}, // nothing to send
			}
			var want []string
			for i, s := range steps {
				if err := s.send(); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if s.want != "" {
					want = append(want, s.want)
				}
			}
			got := datagrams(t, conn, 200*time.Millisecond)
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("datagrams = %q; want %q", got, want)
			}
		})
	}
}

func TestSDNotifyWithoutSystemd(t *testing.T) {
	n := NewSDNotifier(sdEnv(map[string]string{"WATCHDOG_USEC": "1000000"}), os.Getpid())
	if n.Enabled() || n.WatchdogTimeout() != 0 {
		t.Errorf("without NOTIFY_SOCKET: Enabled() = %v, WatchdogTimeout() = %v; want false, 0", n.Enabled(), n.WatchdogTimeout())
	}
	for name, f := range map[string]func() error{
		"Ready":    func() error { return n.Ready("up") },
		"Stopping": func() error { return n.Stopping("") },
		"Status":   func() error { return n.Status("x") },
		"Notify":   func() error { return n.Notify("WATCHDOG=1") },
	} {
		if err := f(); err != nil {
			t.Errorf("%s without NOTIFY_SOCKET = %v; want nil", name, err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := n.RunWatchdog(ctx); err != nil || ctx.Err() != nil {
		t.Errorf("RunWatchdog without NOTIFY_SOCKET = %v (ctx %v); want nil at once", err, ctx.Err())
	}
}

func TestSDNotifyErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "gone")
	for _, tc := range []struct {
		name, socket, send, want string
	}{
		{"relative socket", "notify.sock", "READY=1", "absolute path"},
		{"no listener", missing, "READY=1", missing},
		{"not an assignment", "@x", "READY", "not one VAR=VALUE line"},
		{"two lines in one", "@x", "READY=1\nSTATUS=x", "not one VAR=VALUE line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := NewSDNotifier(sdEnv(map[string]string{"NOTIFY_SOCKET": tc.socket}), 1)
			err := n.Notify(tc.send)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Notify(%q) to %q = %v; want an error containing %q", tc.send, tc.socket, err, tc.want)
			}
		})
	}
}

func TestSDNotifyWatchdogEnvironment(t *testing.T) {
	const pid = 4242
	for _, tc := range []struct {
		usec, wpid string
		want       time.Duration
	}{
		{"30000000", "", 30 * time.Second},
		{"30000000", "4242", 30 * time.Second},
		{"30000000", "4243", 0}, // meant for another process
		{"", "", 0},
		{"0", "", 0},
		{"-5", "", 0},
		{"soon", "", 0},
		{"99999999999999999999", "", 0},
	} {
		n := NewSDNotifier(sdEnv(map[string]string{
			"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": tc.usec, "WATCHDOG_PID": tc.wpid,
		}), pid)
		if got := n.WatchdogTimeout(); got != tc.want {
			t.Errorf("WATCHDOG_USEC=%q WATCHDOG_PID=%q (pid %d): WatchdogTimeout() = %v; want %v",
				tc.usec, tc.wpid, pid, got, tc.want)
		}
	}
}

// sdLogBuffer collects log lines written from the bubble.
type sdLogBuffer struct{ lines []string }

func (l *sdLogBuffer) Write(p []byte) (int, error) {
	l.lines = append(l.lines, string(p))
	return len(p), nil
}

func (l *sdLogBuffer) count(msg string) int {
	n := 0
	for _, line := range l.lines {
		if strings.Contains(line, "msg=\""+msg+"\"") {
			n++
		}
	}
	return n
}

func TestRunWatchdog(t *testing.T) {
	errStuck := errors.New("no frame for 10s")
	for _, tc := range []struct {
		name      string
		unhealthy time.Duration // Healthy fails before this much time has passed
		run       time.Duration
		pings     int
		withheld  int // "withheld" log lines
	}{
		// WATCHDOG_USEC is 200 ms: a ping at 0, 100, 200 and 300 ms.
		{"healthy", 0, 350 * time.Millisecond, 4, 0},
		// Unhealthy at 0, 100 and 200 ms: pings at 300 and 400 ms only.
		{"stuck at first", 250 * time.Millisecond, 450 * time.Millisecond, 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sock, conn := notifySocket(t, true)
			var logs sdLogBuffer
			synctest.Test(t, func(t *testing.T) {
				n := NewSDNotifier(sdEnv(map[string]string{"NOTIFY_SOCKET": sock, "WATCHDOG_USEC": "200000"}), os.Getpid())
				n.Logger = slog.New(slog.NewTextHandler(&logs, nil))
				start := time.Now()
				if tc.unhealthy > 0 {
					n.Healthy = func() error {
						if time.Since(start) < tc.unhealthy {
							return errStuck
						}
						return nil
					}
				}
				ctx, cancel := context.WithCancel(t.Context())
				done := make(chan error, 1)
				go func() { done <- n.RunWatchdog(ctx) }() // exits when ctx is cancelled
				time.Sleep(tc.run)
				cancel()
				if err := <-done; err != nil {
					t.Errorf("RunWatchdog after cancellation = %v; want nil", err)
				}
			})
			got := datagrams(t, conn, 200*time.Millisecond)
			for _, d := range got {
				if d != "WATCHDOG=1\n" {
					t.Errorf("watchdog sent %q; want only WATCHDOG=1", d)
				}
			}
			if len(got) != tc.pings {
				t.Errorf("%d pings in %v with WATCHDOG_USEC=200000; want %d", len(got), tc.run, tc.pings)
			}
			if w, r := logs.count("watchdog ping withheld: station unhealthy"), logs.count("watchdog pings recovered"); w != tc.withheld || r != tc.withheld {
				t.Errorf("logged %d withheld and %d recovered lines; want %d of each:\n%s", w, r, tc.withheld, strings.Join(logs.lines, ""))
			}
		})
	}
}
