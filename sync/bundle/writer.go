package bundle

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"kioskd/sync/wire"
)

// Errors callers branch on.
var (
	// ErrWrongKey: the bundle was sealed under another token than the one
	// keyFor gave for its station.
	ErrWrongKey = errors.New("bundle: sealed under another key")
	// ErrUnknownStation: keyFor knows no key for the bundle's station.
	ErrUnknownStation = errors.New("bundle: unknown station")
	// ErrTampered: a file is missing, damaged or changed since it was
	// written (signature, hash or GCM tag mismatch).
	ErrTampered = errors.New("bundle: damaged or tampered")
	// ErrInvalid: the bundle is intact as far as its keys can tell but is
	// not a valid bundle (unknown format, a limit exceeded, a name other than
	// the expected one, a manifest that fails validation, an unfinished export).
	ErrInvalid = errors.New("bundle: invalid")
	// ErrFull: the bundle has reached MaxRecords or MaxIndexBytes; Close it
	// and start another for the rest.
	ErrFull = errors.New("bundle: full")
)

// Record is one record as a bundle carries it: the manifest central stores
// and the bytes of the two blobs it names.
type Record struct {
	Manifest        wire.Manifest
	Photo, Original []byte
}

// partialPrefix starts the name of a folder being written. Open refuses
// such folders: an export that never reached its rename is not a bundle.
const partialPrefix = ".partial-"

// NamePrefix starts the name of every finished bundle folder:
// kioskd-<station>-<UTC time 20060102T150405Z>.
const NamePrefix = "kioskd-"

// indexSlack is room left in MaxIndexBytes for the index's fixed fields.
const indexSlack = 4 << 10

// Writer writes one bundle. Add records, then Close to publish the bundle
// or Abort to remove what was written. A Writer is not safe for concurrent
// use.
type Writer struct {
	parent    string
	stationID string
	keys      *keys
	created   time.Time
	dir       string // the partial folder

	records    []IndexRecord
	blobs      []IndexBlob
	haveRecord map[string]bool
	haveBlob   map[string]bool
	indexBytes int // the encoded size of records and blobs so far

	err  error // sticky: an I/O error leaves the partial folder in an unknown state
	done bool  // Close or Abort was called
}

// NewWriter starts a bundle of stationID's records in parentDir (the USB
// stick's folder, which must exist). tokenSHA256 is the SHA-256 of the
// station's bearer token. Nothing appears under the bundle's final name
// until Close succeeds.
func NewWriter(parentDir, stationID string, tokenSHA256 [32]byte) (*Writer, error) {
	if !wire.ValidStationID(stationID) {
		return nil, fmt.Errorf("new bundle: %w", invalid("station ID %q is not a valid station name", stationID))
	}
	k, err := deriveKeys(tokenSHA256)
	if err != nil {
		return nil, err
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	dir := filepath.Join(parentDir, partialPrefix+hex.EncodeToString(rnd[:]))
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("new bundle: %w", err)
	}
	for _, sub := range []string{recordDir, blobDir} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("new bundle: %w", err)
		}
	}
	return &Writer{
		parent:     parentDir,
		stationID:  stationID,
		keys:       k,
		created:    time.Now().UTC(),
		dir:        dir,
		haveRecord: make(map[string]bool),
		haveBlob:   make(map[string]bool),
	}, nil
}

// Len is the number of records added so far.
func (w *Writer) Len() int { return len(w.records) }

// Add encrypts r into the bundle. It refuses, leaving the bundle as it was,
// a manifest that fails validation or names another station, a record ID
// already added, and blob bytes that do not hash to (or have the size of)
// the manifest's names; ErrFull when the bundle cannot take another record.
// A blob shared by several records is stored once. After a write error the
// Writer is broken: every later call returns that error and the caller
// should Abort.
func (w *Writer) Add(r Record) error {
	if w.done {
		return errors.New("bundle: Add after Close or Abort")
	}
	if w.err != nil {
		return w.err
	}
	m := &r.Manifest
	if err := m.Check(); err != nil {
		return fmt.Errorf("bundle: record %s: %w", m.RecordID, err)
	}
	if m.StationID != w.stationID {
		return fmt.Errorf("bundle: record %s: %w", m.RecordID, invalid("station %q in a bundle of %q", m.StationID, w.stationID))
	}
	if w.haveRecord[m.RecordID] {
		return fmt.Errorf("bundle: record %s: %w", m.RecordID, invalid("added twice"))
	}
	blobs := []struct {
		what string
		ref  wire.Blob
		data []byte
	}{{"photo", m.Photo, r.Photo}, {"original", m.Original, r.Original}}
	for _, b := range blobs {
		if int64(len(b.data)) != b.ref.Size || wire.SHA256(b.data) != b.ref.SHA256 {
			return fmt.Errorf("bundle: record %s: %s: %w", m.RecordID, b.what, invalid("bytes do not match the manifest's hash and size"))
		}
	}
	canon, err := m.Canonical()
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}

	// Would the index still fit? Entries are fixed-width but for the size digits.
	grow := entrySize(IndexRecord{RecordID: m.RecordID, File: RecordFile(m.RecordID), SHA256: m.Photo.SHA256})
	newBlobs := 0
	for i, b := range blobs {
		if !w.haveBlob[b.ref.SHA256] && (i == 0 || b.ref.SHA256 != m.Photo.SHA256) {
			grow += entrySize(IndexBlob{SHA256: b.ref.SHA256, File: BlobFile(b.ref.SHA256), Size: b.ref.Size, EncSHA256: b.ref.SHA256})
			newBlobs++
		}
	}
	if len(w.records) >= MaxRecords || len(w.blobs)+newBlobs > MaxBlobs || w.indexBytes+grow > MaxIndexBytes-indexSlack {
		return ErrFull
	}

	for _, b := range blobs {
		sum := b.ref.SHA256
		if w.haveBlob[sum] {
			continue
		}
		enc := w.keys.seal(b.data, blobAAD(sum))
		if err := w.writeFile(BlobFile(sum), enc); err != nil {
			return err
		}
		w.haveBlob[sum] = true
		w.blobs = append(w.blobs, IndexBlob{SHA256: sum, File: BlobFile(sum), Size: b.ref.Size, EncSHA256: wire.SHA256(enc)})
	}
	enc := w.keys.seal(canon, recordAAD(m.RecordID))
	if err := w.writeFile(RecordFile(m.RecordID), enc); err != nil {
		return err
	}
	w.haveRecord[m.RecordID] = true
	w.records = append(w.records, IndexRecord{RecordID: m.RecordID, File: RecordFile(m.RecordID), SHA256: wire.SHA256(enc)})
	w.indexBytes += grow
	return nil
}

func entrySize(v any) int {
	b, _ := json.Marshal(v) // plain strings and numbers: cannot fail
	return len(b) + 1       // and its comma
}

// writeFile writes and fsyncs one file of the partial folder. The folder is
// published only by Close's rename, so the file needs no rename of its own.
func (w *Writer) writeFile(name string, data []byte) error {
	path := filepath.Join(w.dir, filepath.FromSlash(name))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err == nil {
		_, err = f.Write(data)
		if serr := f.Sync(); err == nil {
			err = serr
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		w.err = fmt.Errorf("bundle: write %s: %w", name, err)
		return w.err
	}
	return nil
}

// Close writes the signed index, fsyncs the folders and renames the bundle
// to parentDir/kioskd-<station>-<created, UTC> (with "-2", "-3"... if that
// name is taken), and returns its path. On any error the partial folder is
// removed and no bundle exists.
func (w *Writer) Close() (path string, err error) {
	if w.done {
		return "", errors.New("bundle: Close after Close or Abort")
	}
	defer func() {
		if err != nil {
			w.Abort()
		}
		w.done = true
	}()
	if w.err != nil {
		return "", w.err
	}
	ix := Index{
		Format:    Format,
		StationID: w.stationID,
		CreatedAt: w.created,
		KeyID:     w.keys.id,
		Records:   w.records,
		Blobs:     w.blobs,
	}
	if ix.Records == nil {
		ix.Records = []IndexRecord{}
	}
	if ix.Blobs == nil {
		ix.Blobs = []IndexBlob{}
	}
	b, err := json.Marshal(ix)
	if err != nil {
		return "", fmt.Errorf("bundle: encode index: %w", err)
	}
	b = append(b, '\n')
	if len(b) > MaxIndexBytes { // Add keeps it well under; this guards a miscount
		return "", fmt.Errorf("bundle: index of %d bytes: %w", len(b), ErrFull)
	}
	if err := w.writeFile(indexName, b); err != nil {
		return "", err
	}
	if err := w.writeFile(sigName, w.keys.sign(b)); err != nil {
		return "", err
	}
	for _, d := range []string{filepath.Join(w.dir, recordDir), filepath.Join(w.dir, blobDir), w.dir} {
		if err := syncDir(d); err != nil {
			return "", err
		}
	}
	base := filepath.Join(w.parent, NamePrefix+w.stationID+"-"+w.created.Format("20060102T150405Z"))
	for n := 1; ; n++ {
		path = base
		if n > 1 {
			path = base + "-" + strconv.Itoa(n)
		}
		err = os.Rename(w.dir, path)
		if err == nil {
			break
		}
		// A non-empty folder of that name is in the way (an export in the
		// same second); an empty one is replaced by the rename itself.
		if !errors.Is(err, fs.ErrExist) || n == 100 {
			return "", fmt.Errorf("bundle: publish: %w", err)
		}
	}
	if err := syncDir(w.parent); err != nil {
		// The bundle is complete under its name; only the rename's
		// durability is in doubt. Report it and keep the bundle.
		w.done = true
		return path, fmt.Errorf("bundle: %s written but not synced: %w", filepath.Base(path), err)
	}
	return path, nil
}

// Abort removes the partial folder. It does nothing after a successful
// Close, and may be called more than once.
func (w *Writer) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	if err := os.RemoveAll(w.dir); err != nil {
		return fmt.Errorf("bundle: abort: %w", err)
	}
	return nil
}

// syncDir fsyncs a folder so the names in it survive a power cut. File
// systems that cannot sync a directory (EINVAL, ENOTSUP: some FUSE and
// network mounts) are let through: the files themselves were synced.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("bundle: sync %s: %w", filepath.Base(dir), err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
		return fmt.Errorf("bundle: sync %s: %w", filepath.Base(dir), err)
	}
	return nil
}
