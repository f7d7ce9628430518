package queue_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kioskd/kiosk/queue"
)

// crashEnv names the queue directory TestHelperCommitter works in; it is
// set only in the child processes TestCrashSafety starts.
const crashEnv = "KIOSKD_QUEUE_CRASH_DIR"

// TestHelperCommitter is not a test: TestCrashSafety runs the test binary
// again with only this function and crashEnv set, and kills it. It commits
// records in a loop, moves some through the lifecycle, purges and
// reconciles, and prints one "ack" line after each Commit returns: the
// moment the operator would be told "saved".
func TestHelperCommitter(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("helper process for TestCrashSafety")
	}
	q, err := queue.Open(dir, queue.Options{FreeSpace: plenty, OrphanGrace: -1, Timeout: 10 * time.Second})
	if err != nil {
		fmt.Printf("fail open: %v\n", err)
		os.Exit(3)
	}
	fmt.Println("ready")
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, seed>>7))
	for i := 0; ; i++ {
		photo := make([]byte, 20<<10+rng.IntN(20<<10))
		original := make([]byte, 40<<10+rng.IntN(40<<10))
		for _, b := range [][]byte{photo, original} {
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
		}
		r, err := q.Commit(newRecord(fmt.Sprintf("33010619%010d", rng.Uint64()%1e10)), photo, original)
		if err != nil {
			fmt.Printf("fail commit: %v\n", err)
			os.Exit(4)
		}
		fmt.Printf("ack %s %s %s end\n", r.ID, r.Photo.SHA256, r.Original.SHA256)
		switch i % 4 {
		case 1:
			err = q.MarkUploading(r.ID)
		case 2, 3:
			if err = q.MarkUploading(r.ID); err == nil {
				err = q.MarkAccepted(r.ID, "rcpt-"+r.ID)
			}
		}
		if err == nil && i%5 == 4 {
			_, err = q.Purge(time.Now().Add(30*24*time.Hour), 0)
		}
		if err == nil && i%7 == 6 {
			_, err = q.Reconcile()
		}
		if err != nil {
			fmt.Printf("fail: %v\n", err)
			os.Exit(5)
		}
	}
}

type ack struct{ photo, original string }

// TestCrashSafety kills a committing process at random points, at least 50
// times, and after each kill proves the store whole: every acknowledged
// record is there with verifying blobs, no record is half-written, the
// state index matches the records, and one Reconcile leaves no orphan and
// no temp file.
func TestCrashSafety(t *testing.T) {
	kills, budget := 60, 50*time.Second
	if testing.Short() {
		kills, budget = 10, 15*time.Second
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	dir := t.TempDir()
	acked := map[string]ack{}
	start := time.Now()
	done, leftovers, unacked := 0, 0, 0
	for ; done < kills && time.Since(start) < budget; done++ {
		n := runAndKill(t, dir, rng, acked)
		records, rep := checkStore(t, dir, acked)
		t.Logf("kill %d: %d acknowledged this run, %d in all; %d records; reconcile removed %d orphans, %d temps",
			done+1, n, len(acked), records, rep.OrphansRemoved, rep.TempsRemoved)
		if rep.OrphansRemoved+rep.TempsRemoved > 0 {
			leftovers++
		}
		unacked = records - len(acked)
		if t.Failed() {
			t.Fatalf("store broken after kill %d (seed %d)", done+1, seed)
		}
	}
	t.Logf("%d kills in %v: %d left blobs or temp files of a commit in flight; %d records committed but killed before their ack",
		done, time.Since(start).Round(time.Millisecond), leftovers, unacked)
	if done < kills {
		t.Errorf("only %d of %d kills fit in %v", done, kills, budget)
	}
	if len(acked) == 0 {
		t.Error("no commit was acknowledged in any run: the kills came too early to test anything")
	}
}

// runAndKill starts the helper, kills it with SIGKILL after a random
// delay, and adds the commits it acknowledged to acked.
func runAndKill(t *testing.T, dir string, rng *rand.Rand, acked map[string]ack) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperCommitter$", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() { // exits at EOF, once the child is dead
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var got []string
	killAt := time.Duration(rng.IntN(40_000)) * time.Microsecond
	early := rng.IntN(10) == 0 // sometimes kill while it starts or opens
	// Half the other runs time the kill from the first ack rather than
	// from ready, so that a disk whose commit takes over 40 ms still
	// sees acknowledged commits.
	afterAck := !early && rng.IntN(2) == 0
	armed := false
	timer := time.NewTimer(10 * time.Second)
	if early {
		timer.Reset(time.Duration(rng.IntN(30_000)) * time.Microsecond)
	}
wait:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				break wait
			}
			got = append(got, l)
			if !armed && !early && (l == "ready" && !afterAck || afterAck && strings.HasPrefix(l, "ack ")) {
				armed = true
				timer.Reset(killAt)
			}
		case <-timer.C:
			break wait
		}
	}
	cmd.Process.Kill()
	for l := range lines {
		got = append(got, l)
	}
	werr := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(werr, &exit) || exit.ExitCode() != -1 {
		t.Fatalf("helper ended by itself (%v), not by the kill:\n%s\n%s", werr, strings.Join(got, "\n"), stderr.String())
	}
	n := 0
	for _, l := range got {
		if strings.HasPrefix(l, "fail") {
			t.Fatalf("helper: %s", l)
		}
		f := strings.Fields(l)
		if len(f) == 5 && f[0] == "ack" && f[4] == "end" { // a whole line only
			acked[f[1]] = ack{photo: f[2], original: f[3]}
			n++
		}
	}
	return n
}

func checkStore(t *testing.T, dir string, acked map[string]ack) (int, queue.Report) {
	t.Helper()
	q, err := queue.Open(dir, queue.Options{FreeSpace: plenty, OrphanGrace: -1})
	if err != nil {
		t.Fatalf("Open after kill = %v", err)
	}
	defer q.Close()
	all, err := q.List("", 0)
	if err != nil {
		t.Fatalf("List after kill = %v", err)
	}
	byID := map[string]queue.Record{}
	byState := map[queue.State]int{}
	live := map[string]bool{}
	for _, r := range all {
		byID[r.ID] = r
		byState[r.State]++
		if r.State == queue.StateUploading {
			t.Errorf("record %s still uploading after Open", r.ID)
		}
		if r.Purged() {
			continue
		}
		live[r.Photo.SHA256], live[r.Original.SHA256] = true, true
		for _, ref := range []queue.BlobRef{r.Photo, r.Original} {
			if _, err := q.Blob(ref); err != nil {
				t.Errorf("record %s: Blob = %v", r.ID, err)
			}
		}
		if id, err := q.Identity(r); err != nil || len(id.IDNumber) != 18 || id.Name != testName {
			t.Errorf("record %s: Identity = %v, %v", r.ID, id, err)
		}
	}
	for id, a := range acked {
		r, ok := byID[id]
		if !ok {
			t.Errorf("acknowledged record %s is missing", id)
			continue
		}
		if r.Photo.SHA256 != a.photo || r.Original.SHA256 != a.original {
			t.Errorf("acknowledged record %s has other blobs", id)
		}
	}
	counts, err := q.Counts()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range queue.States {
		if counts[s] != byState[s] {
			t.Errorf("Counts()[%s] = %d; the records say %d", s, counts[s], byState[s])
		}
	}
	rep, err := q.Reconcile()
	if err != nil {
		t.Fatalf("Reconcile after kill = %v", err)
	}
	if len(rep.Damaged) != 0 || rep.IndexFixed != 0 {
		t.Errorf("Reconcile after kill = %+v; want no damage and no index repair", rep)
	}
	entries, err := os.ReadDir(filepath.Join(dir, queue.BlobDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !live[e.Name()] {
			t.Errorf("after Reconcile %s is left in %s", e.Name(), queue.BlobDir)
		}
	}
	if n := len(entries); n != len(live) {
		t.Errorf("%s holds %d files; %d are referenced", queue.BlobDir, n, len(live))
	}
	return len(all), rep
}
