package bundle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"kioskd/sync/wire"
)

// Reader reads a bundle whose index Open has verified. Its methods are safe
// for concurrent use.
type Reader struct {
	path  string
	index Index
	keys  *keys
	blobs map[string]IndexBlob
}

// Open opens the bundle folder at path. keyFor gives the SHA-256 of a
// station's bearer token (what central keeps in its stations file), or
// false when it knows no such station. Open reads and authenticates
// bundle.json: ErrUnknownStation when keyFor has no key, ErrWrongKey when
// the bundle was sealed under another token, ErrTampered when the index or
// its signature was changed, ErrInvalid when the signed index is not a
// valid one (or path is an export that never finished). It reads no record
// yet: Each does, verifying every file.
func Open(path string, keyFor func(stationID string) ([32]byte, bool)) (*Reader, error) {
	if strings.HasPrefix(filepath.Base(path), partialPrefix) {
		return nil, fmt.Errorf("open bundle: %w", invalid("%s is an unfinished export", filepath.Base(path)))
	}
	root, err := os.OpenRoot(path)
	if err != nil {
		return nil, fmt.Errorf("open bundle: %w", err)
	}
	defer root.Close()
	b, err := readFile(root, indexName, MaxIndexBytes)
	if err != nil {
		return nil, fmt.Errorf("open bundle: %w", err)
	}
	sig, err := readFile(root, sigName, maxSigFile)
	if err != nil {
		return nil, fmt.Errorf("open bundle: %w", err)
	}

	// The station and key ID are read before the signature is checked:
	// they say which key to check it with. Anything they could be changed
	// to ends in a refusal below.
	var head struct {
		StationID string `json:"station_id"`
		KeyID     string `json:"key_id"`
	}
	// (The first JSON value only: DecodeIndex refuses trailing data once the
	// signature says who wrote it.)
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&head); err != nil || !wire.ValidStationID(head.StationID) {
		return nil, fmt.Errorf("open bundle: %w: index has no readable station", ErrTampered)
	}
	token, ok := keyFor(head.StationID)
	if !ok {
		return nil, fmt.Errorf("open bundle: station %s: %w", head.StationID, ErrUnknownStation)
	}
	k, err := deriveKeys(token)
	if err != nil {
		return nil, err
	}
	if head.KeyID != k.id {
		return nil, fmt.Errorf("open bundle: station %s: %w", head.StationID, ErrWrongKey)
	}
	if !k.verify(b, sig) {
		return nil, fmt.Errorf("open bundle: %w: index signature does not match", ErrTampered)
	}
	ix, err := DecodeIndex(b)
	if err != nil {
		return nil, fmt.Errorf("open bundle: %w", err)
	}
	blobs := make(map[string]IndexBlob, len(ix.Blobs))
	for _, bl := range ix.Blobs {
		blobs[bl.SHA256] = bl
	}
	return &Reader{path: path, index: ix, keys: k, blobs: blobs}, nil
}

// StationID is the station whose records the bundle holds.
func (r *Reader) StationID() string { return r.index.StationID }

// CreatedAt is when the export started (UTC).
func (r *Reader) CreatedAt() time.Time { return r.index.CreatedAt }

// Len is the number of records in the bundle.
func (r *Reader) Len() int { return len(r.index.Records) }

// Each calls fn with every record, in the order they were added, each
// verified first: the encrypted file's hash against the index, its GCM
// tag, the manifest (wire.DecodeManifest, the bundle's station, the
// index's record ID), and each blob's file hash, tag, plaintext SHA-256
// and size against the manifest. A failure stops Each with an error naming
// the record ID, wrapping ErrTampered or ErrInvalid; fn is never called
// with an unverified record. An error from fn stops Each and is returned
// wrapped with the record ID.
func (r *Reader) Each(fn func(Record) error) error {
	root, err := os.OpenRoot(r.path)
	if err != nil {
		return fmt.Errorf("read bundle: %w", err)
	}
	defer root.Close()
	for _, e := range r.index.Records {
		rec, err := r.read(root, e)
		if err != nil {
			return fmt.Errorf("bundle: record %s: %w", e.RecordID, err)
		}
		if err := fn(rec); err != nil {
			return fmt.Errorf("bundle: record %s: %w", e.RecordID, err)
		}
	}
	return nil
}

func (r *Reader) read(root *os.Root, e IndexRecord) (Record, error) {
	enc, err := readFile(root, e.File, maxRecordFile)
	if err != nil {
		return Record{}, err
	}
	if wire.SHA256(enc) != e.SHA256 {
		return Record{}, fmt.Errorf("%w: manifest file hash differs from the index", ErrTampered)
	}
	plain, err := r.keys.open(enc, recordAAD(e.RecordID))
	if err != nil {
		return Record{}, fmt.Errorf("%w: manifest file: %v", ErrTampered, err)
	}
	m, err := wire.DecodeManifest(strings.NewReader(string(plain)))
	if err != nil {
		return Record{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	switch {
	case m.RecordID != e.RecordID:
		return Record{}, invalid("manifest is of another record")
	case m.StationID != r.index.StationID:
		return Record{}, invalid("manifest is of station %q in a bundle of %q", m.StationID, r.index.StationID)
	}
	photo, err := r.blob(root, "photo", m.Photo)
	if err != nil {
		return Record{}, err
	}
	original := photo
	if m.Original != m.Photo {
		if original, err = r.blob(root, "original", m.Original); err != nil {
			return Record{}, err
		}
	}
	return Record{Manifest: m, Photo: photo, Original: original}, nil
}

func (r *Reader) blob(root *os.Root, what string, ref wire.Blob) ([]byte, error) {
	e, ok := r.blobs[ref.SHA256]
	switch {
	case !ok:
		return nil, invalid("%s is not in the bundle", what)
	case e.Size != ref.Size:
		return nil, invalid("%s size %d in the index, %d in the manifest", what, e.Size, ref.Size)
	}
	enc, err := readFile(root, e.File, maxBlobFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if wire.SHA256(enc) != e.EncSHA256 {
		return nil, fmt.Errorf("%w: %s file hash differs from the index", ErrTampered, what)
	}
	plain, err := r.keys.open(enc, blobAAD(e.SHA256))
	if err != nil {
		return nil, fmt.Errorf("%w: %s file: %v", ErrTampered, what, err)
	}
	if int64(len(plain)) != e.Size || wire.SHA256(plain) != e.SHA256 {
		return nil, fmt.Errorf("%w: %s bytes do not hash to their name", ErrTampered, what)
	}
	return plain, nil
}

// readFile reads one regular file of at most limit bytes inside root. A
// missing, oversized or special file wraps ErrTampered: the index or the
// folder was not left as the Writer left it.
func readFile(root *os.Root, name string, limit int64) ([]byte, error) {
	f, err := root.Open(filepath.FromSlash(name))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && name == indexName {
			return nil, fmt.Errorf("no %s: not a bundle: %w", indexName, err)
		}
		return nil, fmt.Errorf("%w: %w", ErrTampered, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTampered, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrTampered, name)
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%w: %s is %d bytes, over %d", ErrTampered, name, st.Size(), limit)
	}
	b := make([]byte, st.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("%w: read %s: %w", ErrTampered, name, err)
	}
	if n, _ := f.Read(make([]byte, 1)); n != 0 {
		return nil, fmt.Errorf("%w: %s grew while read", ErrTampered, name)
	}
	return b, nil
}

// List returns the paths of the finished bundle folders in dir (the root of
// a USB stick), oldest name first; unfinished exports are skipped. Each
// still has to pass Open.
func List(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list bundles: %w", err)
	}
	var out []string
	for _, e := range entries { // ReadDir sorts by name; names sort by time per station
		if e.IsDir() && strings.HasPrefix(e.Name(), NamePrefix) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out, nil
}
