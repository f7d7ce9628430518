package central

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	bolt "go.etcd.io/bbolt"

	"kioskd/kiosk/roster"
	"kioskd/sync/wire"
)

// storedRecord is a record's value in the records bucket. The manifest and
// the receipt are kept as the exact bytes made at commit ([]byte fields
// travel as base64), so a repeat answers the same receipt byte for byte.
type storedRecord struct {
	Manifest       []byte       `json:"manifest"` // canonical encoding
	ManifestSHA256 string       `json:"manifest_sha256"`
	Receipt        []byte       `json:"receipt"` // wire.Receipt.String()
	Station        string       `json:"station"`
	Seq            uint64       `json:"seq"`
	StudentKey     []byte       `json:"student_key"` // rosterKey of the manifest's ID number
	Review         *wire.Review `json:"review,omitempty"`
}

func getRecord(tx *bolt.Tx, id string) (*storedRecord, error) {
	v := tx.Bucket(bucketRecords).Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	var r storedRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("record %s: stored value: %w", id, err)
	}
	return &r, nil
}

func putRecord(tx *bolt.Tx, id string, r *storedRecord) error {
	v, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("record %s: %w", id, err)
	}
	return tx.Bucket(bucketRecords).Put([]byte(id), v)
}

// rosterKey is the roster's key of a student: the SHA-256 of the ID number
// normalised as kiosk/roster does (an identifier that is not a valid ID
// number is trimmed and upper-cased).
func rosterKey(idNumber string) []byte {
	id, err := roster.CheckIDNumber(idNumber)
	if err != nil {
		id = strings.ToUpper(strings.TrimSpace(idNumber))
	}
	sum := sha256.Sum256([]byte(id))
	return sum[:]
}

// CommitRecord stores manifest m for station, steps 1-5 of PUT
// /v1/records/{id} in docs/sync-protocol.md. It returns the receipt's
// bytes, byte-identical on a repeat of the same manifest, and whether the
// record is new. Errors: a manifest failing wire's checks wraps
// wire.ErrInvalid (so does a blob whose size is not the manifest's);
// another station's record is ErrForbidden; *MissingBlobsError lists the
// blobs to upload first; another manifest under the ID is ErrConflict; a
// retake of another student's record is ErrRetakeConflict.
func (s *Server) CommitRecord(station string, m wire.Manifest) (receipt []byte, created bool, err error) {
	if err := m.Check(); err != nil {
		return nil, false, fmt.Errorf("commit record: %w", err)
	}
	if m.StationID != station {
		return nil, false, fmt.Errorf("commit record %s: %w", m.RecordID, ErrForbidden)
	}
	// Blobs are immutable and never deleted, so checking them before the
	// transaction is as good as inside it.
	var missing []string
	for _, b := range []struct {
		what string
		ref  wire.Blob
	}{{"photo", m.Photo}, {"original", m.Original}} {
		size, ok := s.blobSize(b.ref.SHA256)
		switch {
		case !ok:
			if len(missing) == 0 || missing[0] != b.ref.SHA256 {
				missing = append(missing, b.ref.SHA256)
			}
		case size != b.ref.Size:
			return nil, false, fmt.Errorf("commit record %s: %w: %s.size is %d, the blob held has %d bytes",
				m.RecordID, wire.ErrInvalid, b.what, b.ref.Size, size)
		}
	}
	if len(missing) > 0 {
		return nil, false, fmt.Errorf("commit record %s: %w", m.RecordID, &MissingBlobsError{Missing: missing})
	}
	// A blob is visible once renamed, before its upload has fsynced the
	// folder: make its name durable before a receipt depends on it.
	if err := syncDir(filepath.Join(s.dir, BlobDir)); err != nil {
		return nil, false, fmt.Errorf("commit record %s: %w", m.RecordID, err)
	}
	canon, err := m.Canonical()
	if err != nil {
		return nil, false, fmt.Errorf("commit record: %w", err)
	}
	sum := wire.SHA256(canon)
	err = s.db.Update(func(tx *bolt.Tx) error {
		old, err := getRecord(tx, m.RecordID)
		if err != nil {
			return err
		}
		if old != nil {
			if old.ManifestSHA256 != sum {
				return ErrConflict
			}
			receipt, created = bytes.Clone(old.Receipt), false
			return nil
		}
		key := rosterKey(m.Student.IDNumber)
		if m.RetakeOf != "" {
			prev, err := getRecord(tx, m.RetakeOf)
			if err != nil {
				return err
			}
			if prev != nil && !bytes.Equal(prev.StudentKey, key) {
				return ErrRetakeConflict
			}
		}
		seq, err := tx.Bucket(bucketRecords).NextSequence()
		if err != nil {
			return err
		}
		rc := wire.Receipt{
			RecordID:       m.RecordID,
			StationID:      m.StationID,
			ServerSeq:      seq,
			CommittedAt:    s.now(),
			ManifestSHA256: sum,
			ServerEpoch:    s.epoch,
		}
		rec := &storedRecord{Manifest: canon, ManifestSHA256: sum, Receipt: []byte(rc.String()),
			Station: station, Seq: seq, StudentKey: key}
		if err := putRecord(tx, m.RecordID, rec); err != nil {
			return err
		}
		if err := tx.Bucket(bucketBySeq).Put(be8(seq), []byte(m.RecordID)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketByStation).Put(stationKey(station, seq), []byte(m.RecordID)); err != nil {
			return err
		}
		receipt, created = bytes.Clone(rec.Receipt), true
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("commit record %s: %w", m.RecordID, err)
	}
	if created {
		s.log.Info("record committed", "record", m.RecordID, "station", station)
	}
	return receipt, created, nil
}

// StoredRecord is a record as central holds it: the manifest, its receipt,
// and its review outcome (nil until reviewed).
type StoredRecord struct {
	Manifest wire.Manifest
	Receipt  wire.Receipt
	Review   *wire.Review
}

func (r *storedRecord) decode() (StoredRecord, error) {
	var out StoredRecord
	if err := json.Unmarshal(r.Manifest, &out.Manifest); err != nil {
		return StoredRecord{}, fmt.Errorf("stored manifest: %w", err)
	}
	if err := json.Unmarshal(r.Receipt, &out.Receipt); err != nil {
		return StoredRecord{}, fmt.Errorf("stored receipt: %w", err)
	}
	out.Review = r.Review
	return out, nil
}

// recordsPage is how many records Records reads per read transaction: fn
// runs outside any transaction, so a slow fn never holds up writers.
const recordsPage = 256

// Records calls fn for every record in server_seq order, stopping at the
// first error fn returns (which Records returns).
func (s *Server) Records(fn func(StoredRecord) error) error {
	next := uint64(1)
	for {
		var page []StoredRecord
		err := s.db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketBySeq).Cursor()
			for k, v := c.Seek(be8(next)); k != nil && len(page) < recordsPage; k, v = c.Next() {
				r, err := getRecord(tx, string(v))
				if err != nil {
					return err
				}
				if r == nil {
					return fmt.Errorf("record %s: in the seq index, not stored", v)
				}
				sr, err := r.decode()
				if err != nil {
					return fmt.Errorf("record %s: %w", v, err)
				}
				page = append(page, sr)
				next = r.Seq + 1
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("records: %w", err)
		}
		for _, r := range page {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(page) < recordsPage {
			return nil
		}
	}
}
