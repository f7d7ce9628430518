package e2e_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"kioskd/kiosk/queue"
	"kioskd/sync/internal/faultproxy"
	"kioskd/sync/uplink"
)

// Environment of the station processes TestKillDuringSync starts.
const (
	envStationDir = "KIOSKD_E2E_STATION_DIR"
	envCentralURL = "KIOSKD_E2E_CENTRAL_URL"
	envTokenFile  = "KIOSKD_E2E_TOKEN_FILE"
)

// TestHelperStation is not a test: TestKillDuringSync runs the test
// binary again with only this function and the environment above, and
// kills it. It is a station that saves a record every 20 ms, printing
// "ack ID" once each commit returned (when the operator would read
// "saved"), while its uplink worker sends the queue to central.
func TestHelperStation(t *testing.T) {
	dir := os.Getenv(envStationDir)
	if dir == "" {
		t.Skip("helper process for TestKillDuringSync")
	}
	q, err := queue.Open(dir, queue.Options{FreeSpace: plenty, Timeout: 10 * time.Second})
	if err != nil {
		fmt.Printf("fail open: %v\n", err)
		os.Exit(3)
	}
	if _, err := q.Reconcile(); err != nil {
		fmt.Printf("fail reconcile: %v\n", err)
		os.Exit(3)
	}
	c, err := uplink.NewClient(uplink.Config{URL: os.Getenv(envCentralURL), TokenFile: os.Getenv(envTokenFile), StallTimeout: 2 * time.Second})
	if err != nil {
		fmt.Printf("fail client: %v\n", err)
		os.Exit(3)
	}
	w := uplink.New(q, nil, c, station)
	w.BackoffBase, w.BackoffCap = 10*time.Millisecond, 100*time.Millisecond
	go w.Run(context.Background()) // runs until the process is killed
	fmt.Println("ready")
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, seed>>9))
	for {
		r := commitRecord(t, q, int(rng.Uint64()%1e10), 20<<10, 60<<10)
		w.Notify()
		fmt.Printf("ack %s\n", r.ID)
		time.Sleep(20 * time.Millisecond)
	}
}

// TestKillDuringSync kills the station with SIGKILL at random moments
// while it saves records and syncs them through a proxy that drops
// answers after central committed and resets connections mid-body, at
// least 100 times. Then a clean station drains the queue: no record the
// station acknowledged is lost, and central holds every record exactly
// once, with the receipt the station kept.
func TestKillDuringSync(t *testing.T) {
	kills := 100
	if testing.Short() {
		kills = 15
	}
	c := startCentral(t)
	seed := time.Now().UnixNano()
	proxy := faultproxy.Start(t, c.ts.URL, seed)
	proxy.SetFaults(faultproxy.Faults{DropResponse: 0.1, ResetMidBody: 0.05})
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(seed), 1))

	acked := map[string]bool{}
	for i := range kills {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperStation$", "-test.count=1")
		cmd.Env = append(os.Environ(), envStationDir+"="+dir, envCentralURL+"="+proxy.URL(), envTokenFile+"="+c.tokenFile)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() { // ends at the child's death (EOF on its stdout)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		if l := <-lines; l != "ready" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("kill %d: the station did not start: %q", i, l)
		}
		time.Sleep(time.Duration(30+rng.IntN(400)) * time.Millisecond)
		cmd.Process.Kill() // SIGKILL
		for l := range lines {
			switch {
			case strings.HasPrefix(l, "ack "):
				acked[strings.TrimPrefix(l, "ack ")] = true
			case strings.HasPrefix(l, "fail"):
				t.Errorf("kill %d: the station failed: %s", i, l)
			}
		}
		cmd.Wait()
	}
	if len(acked) < kills {
		t.Fatalf("only %d records acknowledged over %d runs: the station hardly ran", len(acked), kills)
	}

	proxy.SetFaults(faultproxy.Faults{})
	q := openQueue(t, dir)
	if _, err := q.Reconcile(); err != nil {
		t.Fatal(err)
	}
	all, err := q.List("", 0)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, r := range all {
		have[r.ID] = true
	}
	for id := range acked {
		if !have[id] {
			t.Errorf("acknowledged record %s is lost", id)
		}
	}
	counts, _ := q.Counts()
	t.Logf("%d kills: %d records acknowledged, %d saved (a kill between the commit and its ack line saves one unacknowledged); before the drain: %v; %v",
		kills, len(acked), len(all), counts, proxy)

	w := newWorker(t, q, proxy.URL(), c.tokenFile)
	stop := runWorker(t, w)
	waitAccepted(t, q, len(all), 2*time.Minute)
	stop()
	verifyExactlyOnce(t, q, c)
}
