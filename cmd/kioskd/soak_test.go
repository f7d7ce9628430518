package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestSoakRSS runs the real daemon with the demo camera and one preview
// client for KIOSK_SOAK (a duration, e.g. 10m) and samples its resident
// memory. It fails if the RSS ever exceeds 60 MB, or grows by more than
// 5 MB from the end of the first minute to the end. It is skipped unless
// KIOSK_SOAK is set: it is a measurement, not a unit test.
//
//	KIOSK_SOAK=10m go test -run TestSoakRSS -v -timeout 20m ./cmd/kioskd
func TestSoakRSS(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("KIOSK_SOAK"))
	if err != nil || d <= 0 {
		t.Skip("set KIOSK_SOAK=10m to run the memory soak")
	}
	bin := filepath.Join(t.TempDir(), "kioskd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-camera", "demo", "-listen", "127.0.0.1:0", "-state-dir", t.TempDir())
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel() // kills the daemon
		cmd.Wait()
	}()

	urlRE := regexp.MustCompile(`url=http://(\S+)`)
	sc := bufio.NewScanner(stderr)
	var addr string
	for sc.Scan() {
		if m := urlRE.FindStringSubmatch(sc.Text()); m != nil {
			addr = m[1]
			break
		}
	}
	if addr == "" {
		t.Fatal("kioskd did not log its address")
	}
	go func() { // keep draining the log so the daemon never blocks on it
		for sc.Scan() {
		}
	}()

	c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	frames := 0
	readErr := make(chan error, 1)
	go func() {
		for {
			typ, _, err := c.ReadMessage()
			if err != nil {
				readErr <- err
				return
			}
			if typ == websocket.BinaryMessage {
				frames++
			}
		}
	}()

	const every = 10 * time.Second
	var samples []int
	var afterMinute int
	start := time.Now()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for time.Since(start) < d {
		select {
		case err := <-readErr:
			t.Fatalf("preview client stopped after %v: %v", time.Since(start), err)
		case <-tick.C:
		}
		rss, err := rssKB(cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		samples = append(samples, rss)
		if afterMinute == 0 && time.Since(start) >= time.Minute {
			afterMinute = rss
		}
	}
	peak := 0
	for _, s := range samples {
		peak = max(peak, s)
	}
	last := samples[len(samples)-1]
	t.Logf("%v with one client: RSS samples (KB, every %v): %v", d, every, samples)
	t.Logf("peak %.1f MB, after 1 min %.1f MB, at the end %.1f MB", float64(peak)/1024, float64(afterMinute)/1024, float64(last)/1024)
	if peak > 60*1024 {
		t.Errorf("peak RSS %.1f MB; want <= 60 MB", float64(peak)/1024)
	}
	if afterMinute > 0 && last-afterMinute > 5*1024 {
		t.Errorf("RSS grew %.1f MB from the first minute to the end; want flat", float64(last-afterMinute)/1024)
	}
}

// rssKB reads a process's resident set size from /proc.
func rssKB(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}
