package queue

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// State is where a record is in its sync lifecycle (see the package doc).
type State string

// The states of a record.
const (
	StateQueued    State = "queued"    // saved here, not yet at central
	StateUploading State = "uploading" // an upload attempt is in progress
	StateAccepted  State = "accepted"  // central holds it and gave a receipt
	StateApproved  State = "approved"  // central's review approved it
	StateRejected  State = "rejected"  // central's review rejected it (Reason); a retake is due
	StateParked    State = "parked"    // a permanent error (Reason) waits for the operator
)

// States lists every state in lifecycle order.
var States = []State{StateQueued, StateUploading, StateAccepted, StateApproved, StateRejected, StateParked}

// code is the state's byte in the state index; 0 is not a state.
func (s State) code() byte {
	for i, st := range States {
		if st == s {
			return byte(i + 1)
		}
	}
	return 0
}

// Valid reports whether s is one of States.
func (s State) Valid() bool { return s.code() != 0 }

// BlobRef names a blob by the SHA-256 of its plaintext (lower-case hex) and
// gives its plaintext size in bytes.
type BlobRef struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

func (r BlobRef) valid() error {
	if len(r.SHA256) != 64 {
		return fmt.Errorf("sha256 %q is not 64 hex digits", r.SHA256)
	}
	for i := 0; i < len(r.SHA256); i++ {
		if c := r.SHA256[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return fmt.Errorf("sha256 %q is not lower-case hex", r.SHA256)
		}
	}
	if r.Size <= 0 {
		return fmt.Errorf("size %d is not positive", r.Size)
	}
	return nil
}

// Fee is what the student paid: Yuan (0 for a waived retake), how (Method:
// "cash", "wechat", "alipay", "waived", ...) and the payment's receipt number.
type Fee struct {
	Yuan    int    `json:"yuan"`
	Method  string `json:"method"`
	Receipt string `json:"receipt,omitempty"`
}

// Consent is the version of the privacy terms the student agreed to, and when.
type Consent struct {
	Version string    `json:"version"`
	At      time.Time `json:"at"`
}

// NewRecord is what the capture flow hands to Commit. IDNumber and Name are
// in clear here; the queue stores them only encrypted.
type NewRecord struct {
	StationID    string
	Operator     string
	IDNumber     string // national ID number or collection code; required
	Name         string
	Spec         string // photo spec ID; required
	Background   string // "replace" or "keep"
	Fee          Fee
	Consent      Consent
	Measurements json.RawMessage // optional, must be valid JSON
	Report       json.RawMessage // optional, must be valid JSON
	RetakeOf     string          // the rejected record this one retakes, if any
}

// Record is one saved capture and its sync state, as stored in queue.db.
//
// The national ID number and the name are kept only AES-GCM encrypted
// (IDNumberSealed, NameSealed; Queue.Identity opens them); StudentKey is a
// keyed hash for lookups and Masked the form a screen may show.
type Record struct {
	ID             string          `json:"id"`
	StationID      string          `json:"stationId"`
	Operator       string          `json:"operator,omitempty"`
	StudentKey     string          `json:"studentKey"`
	Masked         string          `json:"masked"`
	IDNumberSealed []byte          `json:"idNumberSealed,omitempty"`
	NameSealed     []byte          `json:"nameSealed,omitempty"`
	Spec           string          `json:"spec"`
	Background     string          `json:"background,omitempty"`
	CreatedAt      time.Time       `json:"createdAt"`
	Fee            Fee             `json:"fee"`
	Consent        Consent         `json:"consent"`
	Measurements   json.RawMessage `json:"measurements,omitempty"`
	Report         json.RawMessage `json:"report,omitempty"`
	Photo          BlobRef         `json:"photo"`
	Original       BlobRef         `json:"original"`
	RetakeOf       string          `json:"retakeOf,omitempty"`

	State      State     `json:"state"`
	Reason     string    `json:"reason,omitempty"` // why rejected or parked
	Attempts   int       `json:"attempts"`
	LastError  string    `json:"lastError,omitempty"`
	UpdatedAt  time.Time `json:"updatedAt"`
	AcceptedAt time.Time `json:"acceptedAt,omitzero"`
	Receipt    string    `json:"receipt,omitempty"`
	ReviewedAt time.Time `json:"reviewedAt,omitzero"`
	// ExportedAt is when the record last went into a USB bundle (kioskd
	// export, MarkExported); zero if never. It does not change the state.
	ExportedAt time.Time `json:"exportedAt,omitzero"`

	// PurgedAt is set once the local blobs and the sealed identity were
	// deleted after the retention window; the record itself stays.
	PurgedAt time.Time `json:"purgedAt,omitzero"`
	// Damage says why a blob of this record is missing or does not verify,
	// as found by Reconcile; empty when the blobs are whole.
	Damage    string    `json:"damage,omitempty"`
	DamagedAt time.Time `json:"damagedAt,omitzero"`
}

// Purged reports whether the record's local copies were purged.
func (r Record) Purged() bool { return !r.PurgedAt.IsZero() }

// maxRecordSize bounds what DecodeRecord accepts; a real record is a few KB.
const maxRecordSize = 1 << 20

// DecodeRecord parses and checks a stored record: the JSON must hold one
// object whose ID is a version 7 UUID, whose state is known and whose blob
// references are well formed (they become file names).
func DecodeRecord(b []byte) (Record, error) {
	var r Record
	if len(b) > maxRecordSize {
		return r, fmt.Errorf("decode record: %d bytes is over the %d limit", len(b), maxRecordSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&r); err != nil {
		return Record{}, fmt.Errorf("decode record: %w", err)
	}
	if dec.More() {
		return Record{}, fmt.Errorf("decode record: trailing data")
	}
	if err := r.check(); err != nil {
		return Record{}, fmt.Errorf("decode record %s: %w", r.ID, err)
	}
	return r, nil
}

func (r Record) check() error {
	if _, err := ParseUUID(r.ID); err != nil {
		return err
	}
	if !r.State.Valid() {
		return fmt.Errorf("unknown state %q", r.State)
	}
	if r.RetakeOf != "" {
		if _, err := ParseUUID(r.RetakeOf); err != nil {
			return fmt.Errorf("retakeOf: %w", err)
		}
	}
	if err := r.Photo.valid(); err != nil {
		return fmt.Errorf("photo: %w", err)
	}
	if err := r.Original.valid(); err != nil {
		return fmt.Errorf("original: %w", err)
	}
	if len(r.StudentKey) != 64 {
		return fmt.Errorf("studentKey is not an HMAC-SHA256")
	}
	if _, err := hex.DecodeString(r.StudentKey); err != nil {
		return fmt.Errorf("studentKey: %w", err)
	}
	if r.Attempts < 0 {
		return fmt.Errorf("attempts %d is negative", r.Attempts)
	}
	return nil
}

func encodeRecord(r Record) ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode record %s: %w", r.ID, err)
	}
	return b, nil
}
