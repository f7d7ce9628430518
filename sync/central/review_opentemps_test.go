package central_test

// Regression tests from the sync review: Open takes the database lock
// before it removes temp files; the stations file is a secret.

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kioskd/sync/central"
	"kioskd/sync/wire"
)

// TestSecondOpenKeepsRunningUploads: `kioskd central import` run by
// mistake while central serves opens the same folder. Open removes the
// blobs folder's temp files before it finds central.db locked, so an
// upload streaming into a temp file at that moment loses its file and
// fails (a 500 to the station) although nothing was wrong with it.
func TestSecondOpenKeepsRunningUploads(t *testing.T) {
	dir := t.TempDir()
	srv, err := central.Open(dir, central.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	blob := bytes.Repeat([]byte{0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3}, 10_000)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { // ends when pw is closed below
		_, err := srv.PutBlob(wire.SHA256(blob), pr)
		done <- err
	}()
	if _, err := pw.Write(blob[:1000]); err != nil { // the temp file exists once this returns
		t.Fatal(err)
	}

	if second, err := central.Open(dir, central.Options{Timeout: 50 * time.Millisecond}); err == nil {
		second.Close()
		t.Fatal("a second Open of a folder in use succeeded")
	} else if !errors.Is(err, central.ErrLocked) {
		t.Fatalf("second Open = %v; want ErrLocked", err)
	}

	if _, err := pw.Write(blob[1000:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Errorf("PutBlob = %v; want success: the refused second Open must not touch the running server's temp files", err)
	}
	if !srv.HasBlob(wire.SHA256(blob)) {
		t.Errorf("central does not hold the blob")
	}
}

// TestStationsFileMustBePrivate: the stations file holds each token's
// SHA-256, the key of that station's USB bundles; central refuses one
// that group or others may read.
func TestStationsFileMustBePrivate(t *testing.T) {
	dir := t.TempDir()
	if _, err := central.AddStation(dir, "lib-1"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, central.StationsFile)
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("stations file: %v, mode %v; want 0600", err, st.Mode().Perm())
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	srv, err := central.Open(dir, central.Options{})
	if err == nil {
		srv.Close()
		t.Fatal("Open with a stations file readable by others succeeded")
	}
	if !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("Open = %v; want the fix (chmod 600) named", err)
	}
}
