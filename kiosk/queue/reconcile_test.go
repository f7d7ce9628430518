package queue_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"kioskd/kiosk/queue"
)

func blobPath(dir string, ref queue.BlobRef) string {
	return filepath.Join(dir, queue.BlobDir, ref.SHA256)
}

func TestBlobTamper(t *testing.T) {
	cases := []struct {
		name   string
		tamper func(t *testing.T, dir string, r queue.Record)
		want   error
	}{
		{"flipped byte", func(t *testing.T, dir string, r queue.Record) {
			p := blobPath(dir, r.Photo)
			b, _ := os.ReadFile(p)
			b[len(b)/2] ^= 0x01
			os.WriteFile(p, b, 0o600)
		}, queue.ErrCorrupt},
		{"flipped byte in nonce", func(t *testing.T, dir string, r queue.Record) {
			p := blobPath(dir, r.Photo)
			b, _ := os.ReadFile(p)
			b[5] ^= 0x80
			os.WriteFile(p, b, 0o600)
		}, queue.ErrCorrupt},
		{"swapped with the original", func(t *testing.T, dir string, r queue.Record) {
			b, _ := os.ReadFile(blobPath(dir, r.Original))
			os.WriteFile(blobPath(dir, r.Photo), b, 0o600)
		}, queue.ErrCorrupt},
		{"truncated", func(t *testing.T, dir string, r queue.Record) {
			os.Truncate(blobPath(dir, r.Photo), 10)
		}, queue.ErrCorrupt},
		{"plaintext put in its place", func(t *testing.T, dir string, r queue.Record) {
			os.WriteFile(blobPath(dir, r.Photo), jpegLike(t, int(r.Photo.Size), ""), 0o600)
		}, queue.ErrCorrupt},
		{"deleted", func(t *testing.T, dir string, r queue.Record) {
			os.Remove(blobPath(dir, r.Photo))
		}, fs.ErrNotExist},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			q := openQueue(t, dir, queue.Options{})
			r, _, _ := commit(t, q, testIDNumber)
			c.tamper(t, dir, r)
			if b, err := q.Blob(r.Photo); !errors.Is(err, c.want) {
				t.Errorf("Blob after %s = %d bytes, %v; want %v", c.name, len(b), err, c.want)
			}
			if _, err := q.Blob(r.Original); err != nil {
				t.Errorf("Blob(original) = %v; the untouched blob must still read", err)
			}
		})
	}

	// A reference with the wrong size or a hash that is not a file name.
	dir := t.TempDir()
	q := openQueue(t, dir, queue.Options{})
	r, _, _ := commit(t, q, testIDNumber)
	wrongSize := r.Photo
	wrongSize.Size++
	for _, ref := range []queue.BlobRef{wrongSize, {SHA256: "../" + queue.KeyFile, Size: 32}, {SHA256: strings.Repeat("A", 64), Size: 1}} {
		if _, err := q.Blob(ref); !errors.Is(err, queue.ErrCorrupt) {
			t.Errorf("Blob(%+v) = %v; want ErrCorrupt", ref, err)
		}
	}
}

func TestReconcile(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	opt := queue.Options{Now: clk.Now}
	q := openQueue(t, dir, opt)
	whole, _, _ := commit(t, q, testIDNumber)
	missing, _, _ := commit(t, q, "110101200001011234")
	corrupt, _, _ := commit(t, q, "440301199912319876")
	acceptedMissing, _, _ := commit(t, q, "510104198801017777")
	opUp.do(q, acceptedMissing.ID)
	opAccept.do(q, acceptedMissing.ID)
	q.Close()

	blobs := filepath.Join(dir, queue.BlobDir)
	os.Remove(blobPath(dir, missing.Original))
	os.Remove(blobPath(dir, acceptedMissing.Photo))
	b, _ := os.ReadFile(blobPath(dir, corrupt.Photo))
	b[100] ^= 0xFF
	os.WriteFile(blobPath(dir, corrupt.Photo), b, 0o600)
	// Leftovers of a crash: an unreferenced blob and a temp file.
	orphan := strings.Repeat("ab", 32)
	os.WriteFile(filepath.Join(blobs, orphan), []byte("sealed bytes of a capture never saved"), 0o600)
	os.WriteFile(filepath.Join(blobs, ".tmp-123456"), []byte("half a blob"), 0o600)
	os.WriteFile(filepath.Join(blobs, "README"), []byte("not ours"), 0o600)
	// A stray index entry and a missing one.
	editDB(t, filepath.Join(dir, queue.DBFile), func(tx *bolt.Tx) error {
		idx := tx.Bucket([]byte("idx_state"))
		u, _ := queue.ParseUUID(whole.ID)
		if err := idx.Delete(append([]byte{1}, u[:]...)); err != nil {
			return err
		}
		return idx.Put(append([]byte{4}, u[:]...), []byte{})
	})

	// The files are young: with the default grace they stay.
	q = openQueue(t, dir, opt)
	rep, err := q.Reconcile()
	if err != nil {
		t.Fatalf("Reconcile = %v", err)
	}
	if rep.OrphansRemoved != 0 || rep.TempsRemoved != 0 || rep.OrphansKept != 1 {
		t.Errorf("young files: removed %d orphans, %d temps, kept %d; want 0, 0, 1", rep.OrphansRemoved, rep.TempsRemoved, rep.OrphansKept)
	}
	if rep.Records != 4 || rep.Verified != 1 || len(rep.Damaged) != 3 || rep.Parked != 2 || rep.IndexFixed != 2 {
		t.Errorf("Reconcile = %+v; want 4 records, 1 verified, 3 damaged, 2 parked, 2 index fixes", rep)
	}
	damaged := map[string]string{}
	for _, d := range rep.Damaged {
		damaged[d.ID] = d.Reason
	}
	for _, c := range []struct {
		r     queue.Record
		state queue.State
		word  string
	}{
		{missing, queue.StateParked, "original blob " + missing.Original.SHA256[:12] + " missing"},
		{corrupt, queue.StateParked, "photo blob " + corrupt.Photo.SHA256[:12] + " corrupt"},
		{acceptedMissing, queue.StateAccepted, "photo blob " + acceptedMissing.Photo.SHA256[:12] + " missing"},
	} {
		if !strings.Contains(damaged[c.r.ID], c.word) {
			t.Errorf("report for %s = %q; want %q", c.r.ID, damaged[c.r.ID], c.word)
		}
		got, err := q.Get(c.r.ID)
		if err != nil {
			t.Fatalf("damaged record %s: Get = %v; it must never be dropped", c.r.ID, err)
		}
		if got.State != c.state || !strings.Contains(got.Damage, c.word) || got.DamagedAt.IsZero() {
			t.Errorf("record %s: %s damage %q; want %s marked %q", c.r.ID, got.State, got.Damage, c.state, c.word)
		}
	}
	counts, _ := q.Counts()
	if counts[queue.StateQueued] != 1 || counts[queue.StateApproved] != 0 {
		t.Errorf("Counts after index repair = %v; want the whole record queued", counts)
	}

	// An hour later they go; files that are not ours stay.
	clk.Advance(2 * time.Hour)
	rep, err = q.Reconcile()
	if err != nil {
		t.Fatal(err)
	}
	if rep.OrphansRemoved != 1 || rep.TempsRemoved != 1 || rep.OrphansKept != 0 || rep.IndexFixed != 0 || rep.Parked != 0 {
		t.Errorf("second Reconcile = %+v; want 1 orphan, 1 temp removed, nothing else changed", rep)
	}
	for name, want := range map[string]bool{orphan: false, ".tmp-123456": false, "README": true, whole.Photo.SHA256: true, whole.Original.SHA256: true} {
		_, err := os.Stat(filepath.Join(blobs, name))
		if exists := err == nil; exists != want {
			t.Errorf("after Reconcile %s exists = %v; want %v", name, exists, want)
		}
	}

	// A restored blob clears the mark.
	b[100] ^= 0xFF
	if err := os.WriteFile(blobPath(dir, corrupt.Photo), b, 0o600); err != nil {
		t.Fatal(err)
	}
	rep, _ = q.Reconcile()
	if rep.Repaired != 1 || len(rep.Damaged) != 2 {
		t.Errorf("after restoring a blob: Repaired %d, Damaged %d; want 1, 2", rep.Repaired, len(rep.Damaged))
	}
	if got, _ := q.Get(corrupt.ID); got.Damage != "" {
		t.Errorf("restored record still marked %q", got.Damage)
	}
}

func TestPurge(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	q := openQueue(t, dir, queue.Options{Now: clk.Now})
	old, _, _ := commit(t, q, testIDNumber)
	recent, _, _ := commit(t, q, "110101200001011234")
	queued, _, _ := commit(t, q, "440301199912319876")
	// A retake that reuses the old record's original frame (same bytes,
	// same file): its blob must survive the purge of the old record.
	oldOriginal, _ := q.Blob(old.Original)
	shared, err := q.Commit(newRecord("510104198801017777"), jpegLike(t, 2000, ""), oldOriginal)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{old.ID, shared.ID} {
		opUp.do(q, id)
		opAccept.do(q, id)
	}
	opApprove.do(q, old.ID)
	clk.Advance(5 * 24 * time.Hour)
	opUp.do(q, recent.ID)
	opAccept.do(q, recent.ID)
	clk.Advance(3 * 24 * time.Hour) // old: 8 days since acceptance; recent: 3

	n, err := q.Purge(clk.Now(), 0)
	if err != nil || n != 2 {
		t.Fatalf("Purge(7 days) = %d, %v; want 2 (old and shared)", n, err)
	}
	got, err := q.Get(old.ID)
	if err != nil {
		t.Fatalf("purged record: Get = %v; the record must stay", err)
	}
	if !got.Purged() || got.State != queue.StateApproved || got.Receipt != "rcpt-1" || got.Masked == "" || got.StudentKey != old.StudentKey {
		t.Errorf("purged record = %+v; want it marked purged with state, receipt, masked ID and student key kept", got)
	}
	if len(got.IDNumberSealed) != 0 || len(got.NameSealed) != 0 {
		t.Error("purged record still holds the sealed identity")
	}
	if _, err := q.Identity(got); !errors.Is(err, queue.ErrPurged) {
		t.Errorf("Identity(purged) = %v; want ErrPurged", err)
	}
	for _, ref := range []queue.BlobRef{old.Photo, old.Original} {
		if _, err := os.Stat(blobPath(dir, ref)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("blob %s of the purged record: stat = %v; want it gone", ref.SHA256[:8], err)
		}
	}
	for _, r := range []queue.Record{recent, queued} {
		got, _ := q.Get(r.ID)
		if got.Purged() {
			t.Errorf("record %s (%s) purged too early", r.ID, got.State)
		}
		if _, err := q.Blob(r.Photo); err != nil {
			t.Errorf("blob of unpurged %s: %v", r.ID, err)
		}
	}
	if n, _ := q.Purge(clk.Now(), 0); n != 0 {
		t.Errorf("second Purge = %d; want 0 (idempotent)", n)
	}
	rep, err := q.Reconcile()
	if err != nil || len(rep.Damaged) != 0 {
		t.Errorf("Reconcile after purge = %+v, %v; want purged records not reported damaged", rep, err)
	}
	clk.Advance(5 * 24 * time.Hour)
	if n, _ := q.Purge(clk.Now(), 0); n != 1 {
		t.Errorf("Purge 5 days later = %d; want 1 (recent)", n)
	}
	if n, _ := q.Purge(clk.Now().Add(365*24*time.Hour), time.Hour); n != 0 {
		t.Errorf("Purge a year later = %d; want 0: queued records are never purged", n)
	}
}

// TestReconcileDuringCommits runs Reconcile with no grace age in a loop
// while commits are in flight: blobs written but not yet referenced must
// never be taken for orphans.
func TestReconcileDuringCommits(t *testing.T) {
	dir := t.TempDir()
	q := openQueue(t, dir, queue.Options{OrphanGrace: -1})
	stop := make(chan struct{})
	reconciled := make(chan int)
	go func() { // exits when stop is closed
		n := 0
		defer func() { reconciled <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := q.Reconcile(); err != nil {
				t.Errorf("Reconcile = %v", err)
				return
			}
			n++
		}
	}()
	var wg sync.WaitGroup
	recs := make(chan queue.Record, 40)
	for range 2 {
		wg.Go(func() {
			for range 20 {
				r, err := q.Commit(newRecord(testIDNumber), jpegLike(t, 4<<10, ""), jpegLike(t, 8<<10, ""))
				if err != nil {
					t.Errorf("Commit = %v", err)
					return
				}
				recs <- r
			}
		})
	}
	wg.Wait()
	close(stop)
	n := <-reconciled
	close(recs)
	for r := range recs {
		for _, ref := range []queue.BlobRef{r.Photo, r.Original} {
			if _, err := q.Blob(ref); err != nil {
				t.Errorf("record %s after concurrent Reconcile: %v", r.ID, err)
			}
		}
	}
	t.Logf("%d reconciles ran during 40 commits", n)
	if n < 2 {
		t.Errorf("only %d reconciles overlapped the commits", n)
	}
}

func TestKeyFileElsewhere(t *testing.T) {
	dir, keyDir := t.TempDir(), t.TempDir()
	keyPath := filepath.Join(keyDir, "station.key")
	q := openQueue(t, dir, queue.Options{KeyFile: keyPath})
	r, _, _ := commit(t, q, testIDNumber)
	q.Close()
	if _, err := os.Stat(filepath.Join(dir, queue.KeyFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s made in the queue folder although KeyFile points elsewhere", queue.KeyFile)
	}
	q = openQueue(t, dir, queue.Options{KeyFile: keyPath})
	if got, err := q.Get(r.ID); err != nil {
		t.Fatal(err)
	} else if _, err := q.Identity(got); err != nil {
		t.Errorf("Identity with the key elsewhere = %v", err)
	}
	q.Close()
	// Without the option the queue must not quietly make a new key.
	if q, err := queue.Open(dir, queue.Options{FreeSpace: plenty}); err == nil {
		q.Close()
		t.Error("Open without the key = nil; want ErrKeyFile")
	} else if !errors.Is(err, queue.ErrKeyFile) {
		t.Errorf("Open without the key = %v; want ErrKeyFile", err)
	}
}
