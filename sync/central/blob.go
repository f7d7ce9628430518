package central

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"kioskd/sync/wire"
)

// blobPath is where the blob named sum lives; sum must be ValidSHA256, so
// no name from a request can leave the blobs folder.
func (s *Server) blobPath(sum string) string { return filepath.Join(s.dir, BlobDir, sum) }

// blobSize returns the size of the blob named sum, and whether it is held.
func (s *Server) blobSize(sum string) (int64, bool) {
	if !wire.ValidSHA256(sum) {
		return 0, false
	}
	st, err := os.Stat(s.blobPath(sum))
	if err != nil || !st.Mode().IsRegular() {
		return 0, false
	}
	return st.Size(), true
}

// HasBlob reports whether central holds the blob named sum (lower-case hex
// SHA-256). Only verified blobs are ever held.
func (s *Server) HasBlob(sum string) bool {
	_, ok := s.blobSize(sum)
	return ok
}

// Blob returns the bytes of the blob named sum; errors.Is(err,
// fs.ErrNotExist) when central does not hold it.
func (s *Server) Blob(sum string) ([]byte, error) {
	if !wire.ValidSHA256(sum) {
		return nil, fmt.Errorf("blob: %w: name is not a SHA-256", fs.ErrNotExist)
	}
	b, err := os.ReadFile(s.blobPath(sum))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", sum[:12], err)
	}
	return b, nil
}

// PutBlob stores the bytes r yields under their SHA-256, which must be
// sum: they stream to a temp file in the blobs folder while being hashed,
// and only a match is fsynced, renamed to sum and the folder fsynced. It
// returns created false, without reading r, when the blob is already held.
// A mismatch is ErrHashMismatch and more than Options.MaxBlobBytes is
// ErrTooLarge; neither keeps anything. A name that is not 64 lower-case
// hex digits wraps wire.ErrInvalid.
func (s *Server) PutBlob(sum string, r io.Reader) (created bool, err error) {
	if !wire.ValidSHA256(sum) {
		return false, fmt.Errorf("put blob: %w: name is not 64 lower-case hex digits", wire.ErrInvalid)
	}
	dir := filepath.Join(s.dir, BlobDir)
	if s.HasBlob(sum) {
		// Held, but maybe just renamed by an upload still fsyncing the
		// folder: answer only once the name is durable.
		if err := syncDir(dir); err != nil {
			return false, fmt.Errorf("put blob %s: %w", sum[:12], err)
		}
		return false, nil
	}
	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return false, fmt.Errorf("put blob %s: %w", sum[:12], err)
	}
	tmp := f.Name()
	keep := false
	defer func() {
		if !keep {
			f.Close()
			os.Remove(tmp)
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, s.opt.MaxBlobBytes+1))
	if err != nil {
		return false, fmt.Errorf("put blob %s: %w", sum[:12], err)
	}
	if n > s.opt.MaxBlobBytes {
		return false, fmt.Errorf("put blob %s: %w: more than %d bytes", sum[:12], ErrTooLarge, s.opt.MaxBlobBytes)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return false, fmt.Errorf("put blob %s: %w", sum[:12], ErrHashMismatch)
	}
	if err := f.Sync(); err != nil {
		return false, fmt.Errorf("put blob %s: %w", sum[:12], err)
	}
	if err := f.Close(); err != nil {
		return false, fmt.Errorf("put blob %s: %w", sum[:12], err)
	}
	// Two uploads of the same blob at once both rename a whole, verified
	// file with the same bytes onto the name: either result is right.
	if err := os.Rename(tmp, s.blobPath(sum)); err != nil {
		os.Remove(tmp)
		keep = true // closed and removed already
		return false, fmt.Errorf("put blob %s: %w", sum[:12], err)
	}
	keep = true
	if err := syncDir(dir); err != nil {
		return false, fmt.Errorf("put blob %s: %w", sum[:12], err)
	}
	s.log.Debug("blob stored", "blob", sum[:12], "bytes", n)
	return true, nil
}
