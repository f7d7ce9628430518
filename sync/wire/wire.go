// Package wire holds the sync protocol's messages, shared by the station's
// uplink and the reference central server, and their decoders. The
// protocol itself (endpoints, status codes, what each side must do) is
// documented in docs/sync-protocol.md; this package is its vocabulary.
//
// Every decoder here reads at most a fixed number of bytes, refuses
// trailing data and invalid UTF-8, and checks the fields the other side
// relies on, so either side can hand it hostile bytes.
package wire

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Version is the protocol version in every path (/v1/...).
const Version = 1

// ManifestSchema is the schema number a Manifest carries.
const ManifestSchema = 1

// Limits on what either side reads.
const (
	MaxManifestBytes  = 1 << 20  // a record manifest; a real one is a few KB
	MaxBlobBytes      = 32 << 20 // one photo or original frame (a 12 MP JPEG is 3-8 MB)
	MaxHeartbeatBytes = 64 << 10
	MaxReviewBytes    = 16 << 10 // one admin review outcome
	MaxPageBytes      = 8 << 20  // one page of roster changes or reviews
	MaxErrorBytes     = 16 << 10
	MaxCursorBytes    = 128
	MaxRosterPage     = 1000 // roster changes per page, at most
	MaxReviewPage     = 500  // review outcomes per page, at most
)

// Header and media type names.
const (
	ContentTypeJSON = "application/json"
	ContentTypeBlob = "image/jpeg"
)

// ErrInvalid is wrapped by every decoder's and validator's error.
var ErrInvalid = errors.New("invalid message")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

var stationIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidStationID reports whether id can name a station: 1-64 characters of
// ASCII letters, digits, '.', '_' and '-', starting with a letter or digit.
func ValidStationID(id string) bool { return stationIDPattern.MatchString(id) }

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// ValidRecordID reports whether id is a record ID: a lower-case version 7
// UUID as the station's queue makes them.
func ValidRecordID(id string) bool { return uuidPattern.MatchString(id) }

// ValidSHA256 reports whether s is 64 lower-case hex digits.
func ValidSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// SHA256 returns the lower-case hex SHA-256 of b.
func SHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Blob names a photo or an original frame by the SHA-256 of its bytes and
// gives its size.
type Blob struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

func (b Blob) check(what string) error {
	if !ValidSHA256(b.SHA256) {
		return invalid("%s.sha256 is not 64 lower-case hex digits", what)
	}
	if b.Size <= 0 || b.Size > MaxBlobBytes {
		return invalid("%s.size %d is not in 1..%d", what, b.Size, MaxBlobBytes)
	}
	return nil
}

// Student is who a record is of, as the roster knows them. The ID number
// travels only inside TLS and is stored by central; neither side logs it.
type Student struct {
	IDNumber string `json:"id_number"`
	Name     string `json:"name,omitempty"`
}

// Fee is what the student paid at the booth.
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

// Manifest is a record as the station sends it: `PUT /v1/records/{id}`.
// Its identity at central is ManifestSHA256, the SHA-256 of its canonical
// encoding (Canonical), so a repeat of the same record is recognised
// whatever bytes carried it.
type Manifest struct {
	Schema       int             `json:"schema"`
	RecordID     string          `json:"record_id"`
	StationID    string          `json:"station_id"`
	CapturedAt   time.Time       `json:"captured_at"`
	Operator     string          `json:"operator,omitempty"`
	Student      Student         `json:"student"`
	Spec         string          `json:"spec"`
	Background   string          `json:"background,omitempty"`
	Fee          Fee             `json:"fee"`
	Consent      Consent         `json:"consent"`
	Measurements json.RawMessage `json:"measurements,omitempty"`
	Report       json.RawMessage `json:"report,omitempty"`
	Photo        Blob            `json:"photo"`
	Original     Blob            `json:"original"`
	RetakeOf     string          `json:"retake_of,omitempty"`
}

// Check validates what central relies on.
func (m *Manifest) Check() error {
	switch {
	case m.Schema != ManifestSchema:
		return invalid("schema %d: this server speaks %d", m.Schema, ManifestSchema)
	case !ValidRecordID(m.RecordID):
		return invalid("record_id is not a version 7 UUID")
	case !ValidStationID(m.StationID):
		return invalid("station_id is not a valid station name")
	case m.CapturedAt.IsZero():
		return invalid("captured_at is missing")
	case strings.TrimSpace(m.Student.IDNumber) == "" || len(m.Student.IDNumber) > 64:
		return invalid("student.id_number is missing or too long")
	case len(m.Student.Name) > 256 || len(m.Operator) > 256:
		return invalid("student.name or operator is too long")
	case m.Spec == "" || len(m.Spec) > 64:
		return invalid("spec is missing or too long")
	case m.RetakeOf != "" && !ValidRecordID(m.RetakeOf):
		return invalid("retake_of is not a version 7 UUID")
	case m.RetakeOf == m.RecordID:
		return invalid("a record cannot retake itself")
	}
	if err := m.Photo.check("photo"); err != nil {
		return err
	}
	return m.Original.check("original")
}

// Canonical is the manifest's canonical encoding: what the station sends
// and what both sides hash.
func (m *Manifest) Canonical() ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode manifest %s: %w", m.RecordID, err)
	}
	return b, nil
}

// SHA256 is the SHA-256 of the canonical encoding, lower-case hex.
func (m *Manifest) SHA256() (string, error) {
	b, err := m.Canonical()
	if err != nil {
		return "", err
	}
	return SHA256(b), nil
}

// DecodeManifest reads one manifest (at most MaxManifestBytes), refusing
// unknown fields, trailing data and invalid UTF-8, and checks it.
func DecodeManifest(r io.Reader) (Manifest, error) {
	var m Manifest
	if err := decodeStrict(r, MaxManifestBytes, &m); err != nil {
		return Manifest{}, fmt.Errorf("manifest: %w", err)
	}
	if err := m.Check(); err != nil {
		return Manifest{}, fmt.Errorf("manifest: %w", err)
	}
	return m, nil
}

// Receipt is central's acknowledgement of a record: it holds the record
// durably and will never hold another under the same ID. A repeat of the
// same manifest returns the same receipt.
type Receipt struct {
	RecordID       string    `json:"record_id"`
	StationID      string    `json:"station_id"`
	ServerSeq      uint64    `json:"server_seq"`
	CommittedAt    time.Time `json:"committed_at"`
	ManifestSHA256 string    `json:"manifest_sha256"`
	ServerEpoch    string    `json:"server_epoch"`
}

// Matches reports whether r acknowledges exactly manifest m whose hash is
// sum: the uplink marks a record accepted only then.
func (r *Receipt) Matches(m *Manifest, sum string) bool {
	return r.RecordID == m.RecordID && r.StationID == m.StationID && r.ManifestSHA256 == sum &&
		r.ServerSeq > 0 && !r.CommittedAt.IsZero()
}

// String is the receipt's canonical encoding, what the station keeps.
func (r Receipt) String() string {
	b, _ := json.Marshal(r) // no field can fail to encode
	return string(b)
}

// DecodeReceipt reads a receipt (at most MaxManifestBytes).
func DecodeReceipt(r io.Reader) (Receipt, error) {
	var rc Receipt
	if err := decodeLoose(r, MaxManifestBytes, &rc); err != nil {
		return Receipt{}, fmt.Errorf("receipt: %w", err)
	}
	if !ValidRecordID(rc.RecordID) || !ValidSHA256(rc.ManifestSHA256) {
		return Receipt{}, fmt.Errorf("receipt: %w", invalid("record_id or manifest_sha256 malformed"))
	}
	return rc, nil
}

// Hello is `GET /v1/hello`: who the token belongs to, and central's clock
// and epoch (a new epoch means central's data was reset or restored).
type Hello struct {
	Protocol     int       `json:"protocol"`
	StationID    string    `json:"station_id"`
	ServerTime   time.Time `json:"server_time"`
	ServerEpoch  string    `json:"server_epoch"`
	MaxBlobBytes int64     `json:"max_blob_bytes"`
}

// DecodeHello reads a Hello.
func DecodeHello(r io.Reader) (Hello, error) {
	var h Hello
	if err := decodeLoose(r, MaxHeartbeatBytes, &h); err != nil {
		return Hello{}, fmt.Errorf("hello: %w", err)
	}
	if h.Protocol != Version || !ValidStationID(h.StationID) {
		return Hello{}, fmt.Errorf("hello: %w", invalid("protocol %d or station_id %q", h.Protocol, h.StationID))
	}
	return h, nil
}

// Roster change operations.
const (
	OpUpsert = "upsert"
	OpDelete = "delete"
)

// RosterStudent is one roster row as central serves it. Status uses the
// station's roster vocabulary (eligible, collected_online, approved,
// rejected); empty means eligible.
type RosterStudent struct {
	IDNumber       string `json:"id_number"`
	Name           string `json:"name"`
	StudentNumber  string `json:"student_number,omitempty"`
	School         string `json:"school,omitempty"`
	Major          string `json:"major,omitempty"`
	GraduationYear int    `json:"graduation_year,omitempty"`
	Status         string `json:"status,omitempty"`
	Reason         string `json:"reason,omitempty"`
	Code           string `json:"code,omitempty"`
}

// RosterChange is one change to the roster: the student's current row
// (upsert) or their removal (delete, IDNumber alone).
type RosterChange struct {
	Op      string        `json:"op"`
	Student RosterStudent `json:"student"`
}

// RosterPage is `GET /v1/roster?since=CURSOR`: the changes after the
// cursor, oldest first, and the cursor after them. More says another page
// follows at once. An empty since lists the whole roster.
type RosterPage struct {
	Changes []RosterChange `json:"changes"`
	Next    string         `json:"next"`
	More    bool           `json:"more"`
}

// DecodeRosterPage reads and checks a page of roster changes.
func DecodeRosterPage(r io.Reader) (RosterPage, error) {
	var p RosterPage
	if err := decodeLoose(r, MaxPageBytes, &p); err != nil {
		return RosterPage{}, fmt.Errorf("roster page: %w", err)
	}
	if len(p.Changes) > MaxRosterPage {
		return RosterPage{}, fmt.Errorf("roster page: %w", invalid("%d changes, at most %d", len(p.Changes), MaxRosterPage))
	}
	if err := checkCursor(p.Next); err != nil || p.Next == "" {
		return RosterPage{}, fmt.Errorf("roster page: %w", invalid("next cursor missing or malformed"))
	}
	for i, c := range p.Changes {
		if c.Op != OpUpsert && c.Op != OpDelete {
			return RosterPage{}, fmt.Errorf("roster page: change %d: %w", i, invalid("op %q", c.Op))
		}
		if c.Student.IDNumber == "" || len(c.Student.IDNumber) > 64 {
			return RosterPage{}, fmt.Errorf("roster page: change %d: %w", i, invalid("id_number missing or too long"))
		}
	}
	return p, nil
}

// Review outcomes.
const (
	OutcomeApproved = "approved"
	OutcomeRejected = "rejected"
)

// Review is central's review outcome for one record. Receipt is the
// record's receipt, so a station that never saw the answer to its upload
// (the connection dropped after central committed) can still settle it.
type Review struct {
	EventID    string    `json:"event_id"`
	RecordID   string    `json:"record_id"`
	Outcome    string    `json:"outcome"`
	Reason     string    `json:"reason,omitempty"`
	ReviewedAt time.Time `json:"reviewed_at"`
	Receipt    Receipt   `json:"receipt"`
}

func (rv *Review) check() error {
	switch {
	case rv.EventID == "" || len(rv.EventID) > 64:
		return invalid("event_id missing or too long")
	case !ValidRecordID(rv.RecordID):
		return invalid("record_id is not a version 7 UUID")
	case rv.Outcome != OutcomeApproved && rv.Outcome != OutcomeRejected:
		return invalid("outcome %q: want approved or rejected", rv.Outcome)
	case rv.Outcome == OutcomeRejected && strings.TrimSpace(rv.Reason) == "":
		return invalid("a rejection needs a reason")
	case len(rv.Reason) > 512:
		return invalid("reason over 512 bytes")
	case rv.Receipt.RecordID != rv.RecordID:
		return invalid("receipt is for another record")
	}
	return nil
}

// ReviewPage is `GET /v1/reviews?since=CURSOR`: the outcomes for the
// calling station's records after the cursor, oldest first.
type ReviewPage struct {
	Reviews []Review `json:"reviews"`
	Next    string   `json:"next"`
	More    bool     `json:"more"`
}

// DecodeReviewPage reads and checks a page of review outcomes.
func DecodeReviewPage(r io.Reader) (ReviewPage, error) {
	var p ReviewPage
	if err := decodeLoose(r, MaxPageBytes, &p); err != nil {
		return ReviewPage{}, fmt.Errorf("review page: %w", err)
	}
	if len(p.Reviews) > MaxReviewPage {
		return ReviewPage{}, fmt.Errorf("review page: %w", invalid("%d reviews, at most %d", len(p.Reviews), MaxReviewPage))
	}
	if err := checkCursor(p.Next); err != nil || p.Next == "" {
		return ReviewPage{}, fmt.Errorf("review page: %w", invalid("next cursor missing or malformed"))
	}
	for i := range p.Reviews {
		if err := p.Reviews[i].check(); err != nil {
			return ReviewPage{}, fmt.Errorf("review page: review %d: %w", i, err)
		}
	}
	return p, nil
}

// ReviewRequest is what a reviewer posts to central's admin endpoint
// (`POST /v1/admin/reviews`).
type ReviewRequest struct {
	RecordID string `json:"record_id"`
	Outcome  string `json:"outcome"`
	Reason   string `json:"reason,omitempty"`
}

// DecodeReviewRequest reads and checks a review request.
func DecodeReviewRequest(r io.Reader) (ReviewRequest, error) {
	var rq ReviewRequest
	if err := decodeStrict(r, MaxReviewBytes, &rq); err != nil {
		return ReviewRequest{}, fmt.Errorf("review: %w", err)
	}
	rv := Review{EventID: "x", RecordID: rq.RecordID, Outcome: rq.Outcome, Reason: rq.Reason, Receipt: Receipt{RecordID: rq.RecordID}}
	if err := rv.check(); err != nil {
		return ReviewRequest{}, fmt.Errorf("review: %w", err)
	}
	return rq, nil
}

// Heartbeat is the station's status, `POST /v1/stations/{id}/heartbeat`.
// It holds counts and states only, never personal data.
type Heartbeat struct {
	StationID     string         `json:"station_id"`
	Version       string         `json:"version"`
	SentAt        time.Time      `json:"sent_at"`
	Queue         map[string]int `json:"queue"`
	OldestPending time.Time      `json:"oldest_pending,omitzero"`
	DiskFree      int64          `json:"disk_free"`
	Camera        string         `json:"camera,omitempty"`
	LastError     string         `json:"last_error,omitempty"`
	RosterCursor  string         `json:"roster_cursor,omitempty"`
	ReviewCursor  string         `json:"review_cursor,omitempty"`
}

// DecodeHeartbeat reads and checks a heartbeat.
func DecodeHeartbeat(r io.Reader) (Heartbeat, error) {
	var h Heartbeat
	if err := decodeStrict(r, MaxHeartbeatBytes, &h); err != nil {
		return Heartbeat{}, fmt.Errorf("heartbeat: %w", err)
	}
	switch {
	case !ValidStationID(h.StationID):
		return Heartbeat{}, fmt.Errorf("heartbeat: %w", invalid("station_id"))
	case len(h.Queue) > 16:
		return Heartbeat{}, fmt.Errorf("heartbeat: %w", invalid("queue has %d states", len(h.Queue)))
	case len(h.Version) > 128 || len(h.Camera) > 128 || len(h.LastError) > 1024:
		return Heartbeat{}, fmt.Errorf("heartbeat: %w", invalid("a text field is too long"))
	}
	for k, n := range h.Queue {
		if len(k) > 32 || n < 0 {
			return Heartbeat{}, fmt.Errorf("heartbeat: %w", invalid("queue count %q", k))
		}
	}
	return h, nil
}

// Error codes in an Error body. Each goes with one HTTP status
// (docs/sync-protocol.md has the table and what the station does).
const (
	CodeBadRequest     = "bad_request"        // 400
	CodeUnauthorized   = "unauthorized"       // 401: no or unknown token
	CodeForbidden      = "forbidden"          // 403: another station's record or path
	CodeNotFound       = "not_found"          // 404
	CodeRecordConflict = "record_conflict"    // 409: another manifest under this record ID
	CodeCursorGone     = "cursor_gone"        // 410: reload from an empty cursor
	CodeMissingBlobs   = "missing_blobs"      // 412: upload these blobs, then the manifest again
	CodeTooLarge       = "too_large"          // 413
	CodeInvalid        = "invalid"            // 422: the message fails validation
	CodeHashMismatch   = "hash_mismatch"      // 422: the blob's bytes do not hash to its name
	CodeRateLimited    = "rate_limited"       // 429, with Retry-After
	CodeInternal       = "internal"           // 500
	CodeUnavailable    = "unavailable"        // 503, maybe with Retry-After
	CodeRetakeConflict = "retake_conflict"    // 409: retake_of names a record of another student
	CodeMethod         = "method_not_allowed" // 405
)

// Error is every error response's body.
type Error struct {
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Missing []string `json:"missing,omitempty"` // for missing_blobs: the SHA-256s to upload
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// DecodeError reads an error body; a body that is not one gives an Error
// with an empty Code and the start of the body as Message.
func DecodeError(r io.Reader) Error {
	b, _ := io.ReadAll(io.LimitReader(r, MaxErrorBytes))
	var e Error
	if json.Unmarshal(b, &e) != nil || e.Code == "" || len(e.Missing) > 2 {
		msg := string(bytes.ToValidUTF8(b, []byte("?")))
		if len(msg) > 200 {
			msg = msg[:200]
		}
		return Error{Message: strings.TrimSpace(msg)}
	}
	return e
}

// Cursors are opaque to the station; central's are "EPOCH.SEQ".
func checkCursor(c string) error {
	if len(c) > MaxCursorBytes {
		return invalid("cursor over %d bytes", MaxCursorBytes)
	}
	for i := 0; i < len(c); i++ {
		if c[i] <= ' ' || c[i] > '~' {
			return invalid("cursor holds a byte outside printable ASCII")
		}
	}
	return nil
}

// CheckCursor validates a cursor as either side receives it.
func CheckCursor(c string) error { return checkCursor(c) }

// decodeStrict decodes one JSON value of at most limit bytes into v,
// refusing unknown fields, trailing data and invalid UTF-8.
func decodeStrict(r io.Reader, limit int64, v any) error {
	return decode(r, limit, v, true)
}

// decodeLoose is decodeStrict but ignores unknown fields: what a station
// reads from a newer central.
func decodeLoose(r io.Reader, limit int64, v any) error {
	return decode(r, limit, v, false)
}

func decode(r io.Reader, limit int64, v any, strict bool) error {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if int64(len(b)) > limit {
		return invalid("over %d bytes", limit)
	}
	if !utf8.Valid(b) {
		return invalid("not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return invalid("%v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid("trailing data after the JSON value")
	}
	return nil
}
