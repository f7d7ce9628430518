package bundle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"kioskd/sync/wire"
)

// Format is the value of the index's "format" field for this layout.
const Format = "kioskd-bundle/1"

// Limits on what a bundle may hold; Open refuses a bundle over them and the
// Writer never writes one (Add returns ErrFull first).
const (
	MaxIndexBytes = 64 << 20 // bundle.json
	MaxRecords    = 100_000
	MaxBlobs      = 2 * MaxRecords // a photo and an original per record, at most

	maxRecordFile = wire.MaxManifestBytes + Overhead
	maxBlobFile   = wire.MaxBlobBytes + Overhead
	maxSigFile    = 2*32 + 1
)

// File names inside a bundle folder.
const (
	indexName = "bundle.json"
	sigName   = "bundle.json.sig"
	recordDir = "records"
	blobDir   = "blobs"
)

// RecordFile is the only name the index may give the record with this ID.
func RecordFile(id string) string { return recordDir + "/" + id + ".json.enc" }

// BlobFile is the only name the index may give the blob with this hash.
func BlobFile(sum string) string { return blobDir + "/" + sum + ".enc" }

// Index is bundle.json, the plaintext table of contents. It names record
// IDs, hashes and sizes only: no student, no operator, no photo.
type Index struct {
	Format    string        `json:"format"`
	StationID string        `json:"station_id"`
	CreatedAt time.Time     `json:"created_at"`
	KeyID     string        `json:"key_id"`
	Records   []IndexRecord `json:"records"`
	Blobs     []IndexBlob   `json:"blobs"`
}

// IndexRecord is one record's entry: SHA256 is the hash of the encrypted
// file's bytes.
type IndexRecord struct {
	RecordID string `json:"record_id"`
	File     string `json:"file"`
	SHA256   string `json:"sha256"`
}

// IndexBlob is one blob's entry: SHA256 and Size are the plaintext's (the
// names manifests use), EncSHA256 the encrypted file's.
type IndexBlob struct {
	SHA256    string `json:"sha256"`
	File      string `json:"file"`
	Size      int64  `json:"size"`
	EncSHA256 string `json:"enc_sha256"`
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// DecodeIndex reads and checks bundle.json: at most MaxIndexBytes of valid
// UTF-8 holding one JSON object with all the known fields, each once, and
// no other; at most MaxRecords records and two blobs per record; unique
// record IDs and blob hashes; and for each entry the one file name its ID
// or hash allows, so a hostile index cannot point outside the bundle. It does not
// verify the signature (Open does). Every error wraps ErrInvalid.
func DecodeIndex(b []byte) (Index, error) {
	if len(b) > MaxIndexBytes {
		return Index{}, invalid("index is over %d bytes", MaxIndexBytes)
	}
	if !utf8.Valid(b) {
		return Index{}, invalid("index is not valid UTF-8")
	}
	var ix Index
	if err := decodeIndexJSON(b, &ix); err != nil {
		return Index{}, err
	}
	if err := ix.check(); err != nil {
		return Index{}, err
	}
	return ix, nil
}

// decodeIndexJSON walks the top-level object by tokens so that the record
// and blob counts are checked while decoding, before a hostile index of
// millions of tiny entries can allocate them.
func decodeIndexJSON(b []byte, ix *Index) error {
	if err := walkIndex(b, ix); err != nil {
		return invalid("index: %v", err)
	}
	return nil
}

func walkIndex(b []byte, ix *Index) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string) // object keys are always strings
		if seen[key] {
			return fmt.Errorf("field %q twice", key)
		}
		seen[key] = true
		switch key {
		case "format":
			err = dec.Decode(&ix.Format)
		case "station_id":
			err = dec.Decode(&ix.StationID)
		case "created_at":
			err = dec.Decode(&ix.CreatedAt)
		case "key_id":
			err = dec.Decode(&ix.KeyID)
		case "records":
			ix.Records, err = decodeArray[IndexRecord](dec, MaxRecords)
		case "blobs":
			ix.Blobs, err = decodeArray[IndexBlob](dec, MaxBlobs)
		default:
			return fmt.Errorf("unknown field %q", key)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return err
	}
	for _, f := range []string{"format", "station_id", "created_at", "key_id", "records", "blobs"} {
		if !seen[f] {
			return fmt.Errorf("field %q missing", f)
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("want %q, found %v", want, tok)
	}
	return nil
}

// decodeArray decodes a JSON array of at most limit elements, counting
// them before each is allocated. An empty array gives an empty, non-nil
// slice, so an index encodes again as it was read.
func decodeArray[T any](dec *json.Decoder, limit int) ([]T, error) {
	if err := expectDelim(dec, '['); err != nil {
		return nil, err
	}
	out := []T{}
	for dec.More() {
		if len(out) == limit {
			return nil, fmt.Errorf("more than %d entries", limit)
		}
		var v T
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := expectDelim(dec, ']'); err != nil {
		return nil, err
	}
	return out, nil
}

func (ix *Index) check() error {
	switch {
	case ix.Format != Format:
		return invalid("format %q: this program reads %q", ix.Format, Format)
	case !wire.ValidStationID(ix.StationID):
		return invalid("station_id is not a valid station name")
	case ix.CreatedAt.IsZero():
		return invalid("created_at is missing")
	case len(ix.KeyID) != 16 || !isHex(ix.KeyID):
		return invalid("key_id is not 16 lower-case hex digits")
	case len(ix.Blobs) > 2*len(ix.Records):
		return invalid("%d blobs for %d records", len(ix.Blobs), len(ix.Records))
	}
	ids := make(map[string]bool, len(ix.Records))
	for i, r := range ix.Records {
		switch {
		case !wire.ValidRecordID(r.RecordID):
			return invalid("record %d: record_id is not a version 7 UUID", i)
		case ids[r.RecordID]:
			return invalid("record %s: listed twice", r.RecordID)
		case r.File != RecordFile(r.RecordID):
			return invalid("record %s: file is not %s", r.RecordID, RecordFile(r.RecordID))
		case !wire.ValidSHA256(r.SHA256):
			return invalid("record %s: sha256 is not 64 lower-case hex digits", r.RecordID)
		}
		ids[r.RecordID] = true
	}
	sums := make(map[string]bool, len(ix.Blobs))
	for i, bl := range ix.Blobs {
		switch {
		case !wire.ValidSHA256(bl.SHA256):
			return invalid("blob %d: sha256 is not 64 lower-case hex digits", i)
		case sums[bl.SHA256]:
			return invalid("blob %s: listed twice", bl.SHA256)
		case bl.File != BlobFile(bl.SHA256):
			return invalid("blob %s: file is not %s", bl.SHA256, BlobFile(bl.SHA256))
		case bl.Size <= 0 || bl.Size > wire.MaxBlobBytes:
			return invalid("blob %s: size %d is not in 1..%d", bl.SHA256, bl.Size, wire.MaxBlobBytes)
		case !wire.ValidSHA256(bl.EncSHA256):
			return invalid("blob %s: enc_sha256 is not 64 lower-case hex digits", bl.SHA256)
		}
		sums[bl.SHA256] = true
	}
	return nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
