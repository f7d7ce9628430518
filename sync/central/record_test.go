package central_test

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"kioskd/sync/central"
	"kioskd/sync/wire"
)

func TestRecordUpload(t *testing.T) {
	e := newEnv(t)
	tok := e.tokens["lib-1"]
	photo := []byte("\xff\xd8 a standardized photo")
	orig := []byte("\xff\xd8 the original frame, bigger")
	psum, osum := wire.SHA256(photo), wire.SHA256(orig)

	r := e.do(req{Method: "HEAD", Path: "/v1/blobs/sha256:" + psum, Token: tok})
	want(t, "HEAD before upload", r, http.StatusNotFound, "")
	r = e.do(req{Method: "PUT", Path: "/v1/blobs/sha256:" + psum, Token: tok, Body: photo})
	want(t, "PUT new blob", r, http.StatusCreated, "")
	r = e.do(req{Method: "PUT", Path: "/v1/blobs/sha256:" + psum, Token: tok, Body: photo})
	want(t, "PUT blob again", r, http.StatusOK, "")
	r = e.do(req{Method: "HEAD", Path: "/v1/blobs/sha256:" + psum, Token: tok})
	want(t, "HEAD after upload", r, http.StatusOK, "")
	if got := r.Header.Get("Content-Length"); got != strconv.Itoa(len(photo)) {
		t.Errorf("HEAD Content-Length = %q; want %d", got, len(photo))
	}

	m := manifestFor(t, "lib-1", 1, photo, orig, psum, osum)
	r = e.putManifest("lib-1", m)
	want(t, "manifest before its original", r, http.StatusPreconditionFailed, wire.CodeMissingBlobs)
	if got := r.err().Missing; !slices.Equal(got, []string{osum}) {
		t.Errorf("missing = %v; want [%s]", got, osum)
	}

	// Another station may upload any blob.
	if got := e.putBlob("lib-2", orig); got != osum {
		t.Fatalf("blob name %s; want %s", got, osum)
	}
	r = e.putManifest("lib-1", m)
	want(t, "PUT manifest", r, http.StatusCreated, "")
	rc, err := wire.DecodeReceipt(bytes.NewReader(r.Body))
	if err != nil {
		t.Fatalf("receipt: %v", err)
	}
	sum, _ := m.SHA256()
	if !rc.Matches(&m, sum) || rc.ServerEpoch != e.srv.Epoch() || !rc.CommittedAt.Equal(e.clock.Now()) {
		t.Fatalf("receipt %s does not match the manifest (sha %s), epoch %s, time %s", r.Body, sum, e.srv.Epoch(), e.clock.Now())
	}
	first := r.Body

	e.clock.Add(3600e9)
	r = e.putManifest("lib-1", m)
	want(t, "PUT the same manifest again", r, http.StatusOK, "")
	if !bytes.Equal(r.Body, first) {
		t.Fatalf("repeat receipt\n%s\nwant byte-identical\n%s", r.Body, first)
	}

	other := m
	other.Operator = "op08"
	r = e.putManifest("lib-1", other)
	want(t, "another manifest under the same ID", r, http.StatusConflict, wire.CodeRecordConflict)

	bad := manifestFor(t, "lib-1", 2, photo, orig, psum, osum)
	bad.Photo.Size++
	r = e.putManifest("lib-1", bad)
	want(t, "manifest with a wrong blob size", r, http.StatusUnprocessableEntity, wire.CodeInvalid)

	// The path's ID must be the manifest's.
	m2 := manifestFor(t, "lib-1", 3, photo, orig, psum, osum)
	b, _ := m2.Canonical()
	r = e.do(req{Method: "PUT", Path: "/v1/records/" + recordID(t), Token: tok, Body: b})
	want(t, "path ID is not record_id", r, http.StatusBadRequest, wire.CodeBadRequest)

	n := 0
	err = e.srv.Records(func(sr central.StoredRecord) error {
		n++
		if sr.Manifest.RecordID != m.RecordID || sr.Receipt.String() != string(first) || sr.Review != nil {
			t.Errorf("Records: %+v", sr)
		}
		return nil
	})
	if err != nil || n != 1 {
		t.Fatalf("Records: %d records, %v; want 1", n, err)
	}
}

func TestBlobHashMismatch(t *testing.T) {
	e := newEnv(t)
	body := []byte("these bytes are not what the name says")
	name := wire.SHA256([]byte("something else"))
	r := e.do(req{Method: "PUT", Path: "/v1/blobs/sha256:" + name, Token: e.tokens["lib-1"], Body: body})
	want(t, "PUT with a wrong hash", r, http.StatusUnprocessableEntity, wire.CodeHashMismatch)
	r = e.do(req{Method: "HEAD", Path: "/v1/blobs/sha256:" + name, Token: e.tokens["lib-1"]})
	want(t, "HEAD after a mismatch", r, http.StatusNotFound, "")
	entries, err := os.ReadDir(filepath.Join(e.dir, central.BlobDir))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("blobs folder holds %d files after a refused upload; want none", len(entries))
	}
	if _, err := e.srv.PutBlob(name, bytes.NewReader(body)); !errors.Is(err, central.ErrHashMismatch) {
		t.Fatalf("PutBlob(wrong name) = %v; want ErrHashMismatch", err)
	}
}

func TestBlobTooLarge(t *testing.T) {
	dir := t.TempDir()
	srv, err := central.Open(dir, central.Options{MaxBlobBytes: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	big := bytes.Repeat([]byte{7}, 101)
	if _, err := srv.PutBlob(wire.SHA256(big), bytes.NewReader(big)); !errors.Is(err, central.ErrTooLarge) {
		t.Fatalf("PutBlob(101 bytes, limit 100) = %v; want ErrTooLarge", err)
	}
	ok := big[:100]
	created, err := srv.PutBlob(wire.SHA256(ok), bytes.NewReader(ok))
	if err != nil || !created {
		t.Fatalf("PutBlob(100 bytes) = %v, %v; want created", created, err)
	}
	got, err := srv.Blob(wire.SHA256(ok))
	if err != nil || !bytes.Equal(got, ok) {
		t.Fatalf("Blob = %d bytes, %v; want the 100 stored", len(got), err)
	}
}

func TestRetake(t *testing.T) {
	e := newEnv(t)
	first, _ := e.record("lib-1", 1)
	want(t, "first record", e.putManifest("lib-1", first), http.StatusCreated, "")

	other, _ := e.record("lib-1", 2)
	other.RetakeOf = first.RecordID
	want(t, "retake of another student's record", e.putManifest("lib-1", other), http.StatusConflict, wire.CodeRetakeConflict)

	same, _ := e.record("lib-2", 1)
	same.RetakeOf = first.RecordID
	want(t, "retake of the same student (from another station)", e.putManifest("lib-2", same), http.StatusCreated, "")

	unknown, _ := e.record("lib-1", 3)
	unknown.RetakeOf = recordID(t)
	want(t, "retake of a record central lacks", e.putManifest("lib-1", unknown), http.StatusCreated, "")
}

// TestConcurrentCommit sends the same manifest from many goroutines: one
// creates it, every other gets the same receipt.
func TestConcurrentCommit(t *testing.T) {
	e := newEnv(t)
	m, _ := e.record("lib-1", 1)
	const n = 8
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		created  int
		receipts = map[string]bool{}
	)
	for range n {
		wg.Add(1)
		go func() { // exits after one commit
			defer wg.Done()
			rc, isNew, err := e.srv.CommitRecord("lib-1", m)
			if err != nil {
				t.Errorf("CommitRecord: %v", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if isNew {
				created++
			}
			receipts[string(rc)] = true
		}()
	}
	wg.Wait()
	if created != 1 || len(receipts) != 1 {
		t.Fatalf("%d creations and %d distinct receipts; want 1 and 1", created, len(receipts))
	}
}

func TestCommitRecordErrors(t *testing.T) {
	e := newEnv(t)
	m, _ := e.record("lib-1", 1)
	if _, _, err := e.srv.CommitRecord("lib-2", m); !errors.Is(err, central.ErrForbidden) {
		t.Errorf("CommitRecord(other station) = %v; want ErrForbidden", err)
	}
	bad := m
	bad.Schema = 9
	if _, _, err := e.srv.CommitRecord("lib-1", bad); !errors.Is(err, wire.ErrInvalid) {
		t.Errorf("CommitRecord(schema 9) = %v; want wire.ErrInvalid", err)
	}
	lacking := m
	lacking.Photo = wire.Blob{SHA256: strings.Repeat("ab", 32), Size: 10}
	_, _, err := e.srv.CommitRecord("lib-1", lacking)
	var mb *central.MissingBlobsError
	if !errors.As(err, &mb) || !slices.Equal(mb.Missing, []string{lacking.Photo.SHA256}) {
		t.Errorf("CommitRecord(missing photo) = %v; want MissingBlobsError with the photo", err)
	}
}
