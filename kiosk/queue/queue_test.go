package queue_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"kioskd/kiosk/queue"
)

// Synthetic identities: valid-looking GB 11643 numbers, not real people.
const (
	testIDNumber = "33010619990307123X"
	testName     = "张小明"
)

// clock is a settable clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

// newClock starts at the real time: Reconcile compares it with file times.
func newClock() *clock { return &clock{t: time.Now().UTC().Truncate(time.Millisecond)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// plenty is a FreeSpace that always reports 100 GB.
func plenty(string) (int64, error) { return 100 << 30, nil }

func openQueue(t testing.TB, dir string, opt queue.Options) *queue.Queue {
	t.Helper()
	if opt.FreeSpace == nil {
		opt.FreeSpace = plenty
	}
	q, err := queue.Open(dir, opt)
	if err != nil {
		t.Fatalf("Open(%s) = %v", dir, err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

// jpegLike returns n bytes that start like a JPEG and hold marker in clear,
// so a scan of the store can tell whether any plaintext reached the disk.
func jpegLike(t testing.TB, n int, marker string) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	copy(b, []byte{0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0})
	copy(b[64:], marker)
	return b
}

func newRecord(id string) queue.NewRecord {
	return queue.NewRecord{
		StationID:    "station-07",
		Operator:     "op-li",
		IDNumber:     id,
		Name:         testName,
		Spec:         "chsi-480x640",
		Background:   "replace",
		Fee:          queue.Fee{Yuan: 30, Method: "wechat", Receipt: "W2026062000017"},
		Consent:      queue.Consent{Version: "privacy-2026.1", At: time.Date(2026, 6, 20, 8, 59, 0, 0, time.UTC)},
		Measurements: json.RawMessage(`{"eyeY":0.42,"faceWidth":0.6}`),
		Report:       json.RawMessage(`{"ready":true}`),
	}
}

func commit(t testing.TB, q *queue.Queue, idNumber string) (queue.Record, []byte, []byte) {
	t.Helper()
	photo := jpegLike(t, 35<<10, idNumber+testName)
	original := jpegLike(t, 64<<10, idNumber+testName)
	r, err := q.Commit(newRecord(idNumber), photo, original)
	if err != nil {
		t.Fatalf("Commit = %v", err)
	}
	return r, photo, original
}

func TestCommitRoundTrip(t *testing.T) {
	clk := newClock()
	q := openQueue(t, t.TempDir(), queue.Options{Now: clk.Now})
	r, photo, original := commit(t, q, testIDNumber)

	if !uuidV7.MatchString(r.ID) {
		t.Errorf("ID = %q; want a UUIDv7", r.ID)
	}
	if r.State != queue.StateQueued {
		t.Errorf("State = %s; want queued", r.State)
	}
	if r.Masked != "3301**********123X" {
		t.Errorf("Masked = %q; want 3301**********123X", r.Masked)
	}
	if r.StudentKey != q.StudentKey(testIDNumber) || r.StudentKey != q.StudentKey(" 33010619990307123x ") {
		t.Errorf("StudentKey = %s; want StudentKey(id) for any spelling of the number", r.StudentKey)
	}
	if strings.Contains(r.StudentKey, testIDNumber) || len(r.StudentKey) != 64 {
		t.Errorf("StudentKey = %q; want a 64-hex HMAC", r.StudentKey)
	}
	sum := sha256.Sum256(photo)
	if r.Photo.SHA256 != hex.EncodeToString(sum[:]) || r.Photo.Size != int64(len(photo)) {
		t.Errorf("Photo = %+v; want the SHA-256 and size of the photo", r.Photo)
	}

	got, err := q.Get(r.ID)
	if err != nil {
		t.Fatalf("Get = %v", err)
	}
	a, _ := json.Marshal(r)
	b, _ := json.Marshal(got)
	if !bytes.Equal(a, b) {
		t.Errorf("Get = %s\nwant %s", b, a)
	}
	for _, c := range []struct {
		ref  queue.BlobRef
		want []byte
	}{{r.Photo, photo}, {r.Original, original}} {
		blob, err := q.Blob(c.ref)
		if err != nil || !bytes.Equal(blob, c.want) {
			t.Errorf("Blob(%s) = %d bytes, %v; want the committed %d bytes", c.ref.SHA256[:8], len(blob), err, len(c.want))
		}
	}
	id, err := q.Identity(got)
	if err != nil || id.IDNumber != testIDNumber || id.Name != testName {
		t.Errorf("Identity = %+v, %v; want %s %s", id, err, testIDNumber, testName)
	}
	if _, err := q.Get("0190a3b2-7c4d-7e5f-8a6b-1c2d3e4f5a6b"); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("Get(unknown) = %v; want ErrNotFound", err)
	}
}

func TestCommitValidates(t *testing.T) {
	q := openQueue(t, t.TempDir(), queue.Options{})
	photo := jpegLike(t, 1000, "")
	cases := []struct {
		name   string
		edit   func(*queue.NewRecord)
		photo  []byte
		origin []byte
	}{
		{"no station", func(r *queue.NewRecord) { r.StationID = " " }, photo, photo},
		{"no id number", func(r *queue.NewRecord) { r.IDNumber = "" }, photo, photo},
		{"no spec", func(r *queue.NewRecord) { r.Spec = "" }, photo, photo},
		{"bad measurements", func(r *queue.NewRecord) { r.Measurements = json.RawMessage("{") }, photo, photo},
		{"bad retake", func(r *queue.NewRecord) { r.RetakeOf = "abc" }, photo, photo},
		{"no photo", func(*queue.NewRecord) {}, nil, photo},
		{"no original", func(*queue.NewRecord) {}, photo, nil},
	}
	for _, c := range cases {
		nr := newRecord(testIDNumber)
		c.edit(&nr)
		if r, err := q.Commit(nr, c.photo, c.origin); err == nil {
			t.Errorf("Commit(%s) = %s, nil; want an error", c.name, r.ID)
		}
	}
	if n, _ := q.List("", 0); len(n) != 0 {
		t.Errorf("after refused commits List has %d records; want 0", len(n))
	}
}

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	q := openQueue(t, dir, queue.Options{})
	r, _, _ := commit(t, q, testIDNumber)
	q.Close()
	keyPath := filepath.Join(dir, queue.KeyFile)
	st, err := os.Stat(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 || st.Size() != 32 {
		t.Fatalf("%s: mode %v size %d; want 0600 and 32 bytes", queue.KeyFile, st.Mode().Perm(), st.Size())
	}
	key, _ := os.ReadFile(keyPath)

	// Reopening with the same key reads the record back.
	q2 := openQueue(t, dir, queue.Options{})
	if got, err := q2.Get(r.ID); err != nil {
		t.Fatalf("Get after reopen = %v", err)
	} else if _, err := q2.Identity(got); err != nil {
		t.Fatalf("Identity after reopen = %v", err)
	}
	q2.Close()

	other := make([]byte, 32)
	rand.Read(other)
	cases := []struct {
		name string
		mode os.FileMode
		data []byte
		gone bool
		want string
	}{
		{"group readable", 0o640, key, false, "0640"},
		{"world readable", 0o604, key, false, "0604"},
		{"short", 0o600, key[:31], false, "31 bytes"},
		{"long", 0o600, append(key, 0), false, "33 bytes"},
		{"another key", 0o600, other, false, "not the key"},
		{"missing", 0o600, nil, true, "missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			os.Remove(keyPath)
			if !c.gone {
				if err := os.WriteFile(keyPath, c.data, c.mode); err != nil {
					t.Fatal(err)
				}
				os.Chmod(keyPath, c.mode)
			}
			q, err := queue.Open(dir, queue.Options{FreeSpace: plenty})
			if err == nil {
				q.Close()
				t.Fatalf("Open with a %s key file = nil; want an error", c.name)
			}
			if !errors.Is(err, queue.ErrKeyFile) || !strings.Contains(err.Error(), keyPath) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Open = %q; want ErrKeyFile naming %s and saying %q", err, keyPath, c.want)
			}
			// The key file is never replaced behind the operator's back.
			if b, _ := os.ReadFile(keyPath); !c.gone && !bytes.Equal(b, c.data) {
				t.Errorf("Open changed the key file")
			}
		})
	}
	os.WriteFile(keyPath, key, 0o600)
	os.Chmod(keyPath, 0o600)
	q3 := openQueue(t, dir, queue.Options{})
	if _, err := q3.Get(r.ID); err != nil {
		t.Errorf("Get after restoring the key = %v", err)
	}
}

func TestOpenLocked(t *testing.T) {
	dir := t.TempDir()
	openQueue(t, dir, queue.Options{})
	start := time.Now()
	q, err := queue.Open(dir, queue.Options{Timeout: 200 * time.Millisecond})
	if err == nil {
		q.Close()
		t.Fatal("second Open = nil; want ErrLocked")
	}
	if !errors.Is(err, queue.ErrLocked) || !strings.Contains(err.Error(), queue.DBFile) {
		t.Errorf("second Open = %q; want ErrLocked naming %s", err, queue.DBFile)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("second Open took %v; want about the 200ms timeout", d)
	}
}

func TestDiskFull(t *testing.T) {
	var mu sync.Mutex
	free := int64(10 << 30)
	freeSpace := func(string) (int64, error) {
		mu.Lock()
		defer mu.Unlock()
		return free, nil
	}
	q := openQueue(t, t.TempDir(), queue.Options{MinFree: 1 << 30, FreeSpace: freeSpace})
	r, photo, _ := commit(t, q, testIDNumber)

	mu.Lock()
	free = 1<<30 + 50<<10 // above the reserve, but not with the new blobs added
	mu.Unlock()
	_, err := q.Commit(newRecord("110101200001011234"), photo, photo)
	if !errors.Is(err, queue.ErrDiskFull) {
		t.Fatalf("Commit with little free space = %v; want ErrDiskFull", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "磁盘空间不足") || !strings.Contains(msg, "disk almost full") {
		t.Errorf("ErrDiskFull message %q; want zh-CN and English", msg)
	}
	// Reading and syncing what is queued keeps working.
	if _, err := q.Blob(r.Photo); err != nil {
		t.Errorf("Blob while disk full = %v", err)
	}
	if err := q.MarkUploading(r.ID); err != nil {
		t.Errorf("MarkUploading while disk full = %v", err)
	}
	if err := q.MarkAccepted(r.ID, "rcpt-1"); err != nil {
		t.Errorf("MarkAccepted while disk full = %v", err)
	}
	if n, err := q.Purge(time.Now().Add(30*24*time.Hour), 0); err != nil || n != 1 {
		t.Errorf("Purge while disk full = %d, %v; want 1, nil", n, err)
	}
	if rs, _ := q.List("", 0); len(rs) != 1 {
		t.Errorf("List = %d records; want only the first", len(rs))
	}
	mu.Lock()
	free = 10 << 30
	mu.Unlock()
	if _, err := q.Commit(newRecord("110101200001011234"), photo, photo); err != nil {
		t.Errorf("Commit after space returned = %v", err)
	}
}

// TestNoPlaintextAtRest commits records whose blobs carry the ID number and
// name in clear, then scans every file of the store.
func TestNoPlaintextAtRest(t *testing.T) {
	dir := t.TempDir()
	q := openQueue(t, dir, queue.Options{})
	ids := []string{"33010619990307123X", "110101200001011234", "440301199912319876"}
	for _, id := range ids {
		commit(t, q, id)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	needles := map[string][]byte{"name": []byte(testName)}
	for _, id := range ids {
		needles[id] = []byte(id)
		needles[id+" (lower x)"] = []byte(strings.ToLower(id))
	}
	blobs := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for what, n := range needles {
			if bytes.Contains(b, n) {
				t.Errorf("%s holds the %s in clear", filepath.Base(path), what)
			}
		}
		if filepath.Base(filepath.Dir(path)) == queue.BlobDir {
			blobs++
			if bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}) {
				t.Errorf("blob %s starts with a JPEG SOI marker", filepath.Base(path))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if blobs != 2*len(ids) {
		t.Errorf("scanned %d blob files; want %d", blobs, 2*len(ids))
	}
}

func TestMask(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"33010619990307123X", "3301**********123X"},
		{"33010619990307123x", "3301**********123X"},
		{"ABCDEFGHIJKL", "AB********KL"},
		{"A1B2C3", "****C3"},
		{"AB", "**"},
		{"", ""},
	} {
		if got := queue.Mask(c.in); got != c.want {
			t.Errorf("Mask(%q) = %q; want %q", c.in, got, c.want)
		}
	}
}

func TestSchemaNewerRefused(t *testing.T) {
	dir := t.TempDir()
	q := openQueue(t, dir, queue.Options{})
	q.Close()
	setSchema(t, filepath.Join(dir, queue.DBFile), "99")
	q2, err := queue.Open(dir, queue.Options{FreeSpace: plenty})
	if err == nil {
		q2.Close()
		t.Fatal("Open of a newer schema = nil; want an error")
	}
	if !strings.Contains(err.Error(), "schema version 99") {
		t.Errorf("Open = %q; want it to name schema version 99", err)
	}
}

// TestIDsIncreaseAcrossRestart: record IDs keep increasing after a restart
// even when the wall clock was set back meanwhile.
func TestIDsIncreaseAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	ahead := newClock()
	ahead.Advance(time.Hour)
	q := openQueue(t, dir, queue.Options{Now: ahead.Now})
	first, _, _ := commit(t, q, testIDNumber)
	q.Close()
	q = openQueue(t, dir, queue.Options{Now: newClock().Now})
	second, _, _ := commit(t, q, testIDNumber)
	if second.ID <= first.ID {
		t.Errorf("after the clock went back an hour, ID %s <= earlier ID %s", second.ID, first.ID)
	}
	all, _ := q.List("", 0)
	if len(all) != 2 || all[0].ID != first.ID {
		t.Errorf("List order = %v; want commit order", recIDs(all))
	}
}
