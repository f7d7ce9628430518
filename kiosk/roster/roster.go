package roster

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"golang.org/x/text/width"

	"kioskd/kiosk/queue"
)

// Defaults for Options fields left zero.
const (
	DefaultTimeout   = 2 * time.Second // how long Open waits for the lock on roster.db
	DefaultBatchSize = 2000            // rows per import transaction
)

// SchemaVersion is the layout of roster.db this package writes.
const SchemaVersion = 1

// DBFile is the roster's bbolt file inside the state folder.
const DBFile = "roster.db"

// Errors callers branch on.
var (
	ErrLocked       = errors.New("roster.db is in use by another process (is another kioskd running?)")
	ErrKeyFile      = queue.ErrKeyFile
	ErrCorrupt      = errors.New("corrupt roster data")
	ErrNotFound     = errors.New("学生不在名单中 / student not on the roster")
	ErrNameMismatch = errors.New("姓名与身份证号不符，请核对 / the name does not match the ID number: check both")
	ErrLocalState   = errors.New("local state must be captured_here, approved or rejected")
	ErrBadRows      = errors.New("rows refused")
)

// Mode says what an import does with students the import does not list.
type Mode int

// Import modes.
const (
	// Merge adds and updates the rows given and leaves other students as
	// they are (central's roster deltas).
	Merge Mode = iota
	// Replace is a full re-import: students on the roster but not in the
	// rows are marked removed (not deleted: their local state is kept, and
	// a later import listing them restores them).
	Replace
)

// Options tune a Roster; zero fields take the Default* values.
type Options struct {
	// KeyFile is the station key file; queue.KeyFile in dir by default, the
	// same file the queue uses (the roster derives keys of its own from it).
	KeyFile string
	// Timeout bounds the wait for the lock on roster.db.
	Timeout time.Duration
	// Window is the collection period; Identify refuses outside it.
	Window Window
	// BatchSize is the number of rows per import transaction.
	BatchSize int
	// Now is the clock for the window and for timestamps; time.Now by default.
	Now func() time.Time
	// Logger receives imports and state changes; discarded when nil. No
	// line it gets holds an ID number or a name.
	Logger *slog.Logger
}

// Roster is the station's copy of the student roster in roster.db. Its
// methods are safe for concurrent use.
type Roster struct {
	db   *bolt.DB
	keys *keys
	opt  Options
	log  *slog.Logger

	// importMu serialises imports: an import is several transactions
	// (students, codes, removals) whose counts assume no other import
	// runs in between. Lookups and SetLocal do not take it.
	importMu sync.Mutex
}

// Buckets and meta keys in roster.db.
var (
	bucketMeta     = []byte("meta")
	bucketStudents = []byte("students") // HMAC(ID number), 32 bytes → student JSON
	bucketCodes    = []byte("codes")    // HMAC(collection code), 32 bytes → student key
	keySchema      = []byte("schema")
	keyKeyID       = []byte("keyId")
	keyLastImport  = []byte("lastImport")
	keyActive      = []byte("active") // students not marked removed, decimal
)

// Open opens (or creates) dir/roster.db and reads the station key file. A
// roster.db held by another process fails after Options.Timeout with
// ErrLocked; a key file that is unsafe, malformed, or not the key
// roster.db was written with fails with ErrKeyFile.
func Open(dir string, opt Options) (*Roster, error) {
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = DefaultBatchSize
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.KeyFile == "" {
		opt.KeyFile = filepath.Join(dir, queue.KeyFile)
	}
	if err := opt.Window.Validate(); err != nil {
		return nil, fmt.Errorf("open roster: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open roster: %w", err)
	}
	path := filepath.Join(dir, DBFile)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opt.Timeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open roster %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open roster %s: %w", path, err)
	}
	r := &Roster{db: db, opt: opt, log: opt.Logger.With("component", "roster")}
	if err := r.init(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open roster: %w", err)
	}
	return r, nil
}

func (r *Roster) init() error {
	var keyID string
	var schema int
	err := r.db.View(func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		if m == nil {
			return nil
		}
		keyID = string(m.Get(keyKeyID))
		if v := m.Get(keySchema); v != nil {
			n, err := strconv.Atoi(string(v))
			if err != nil {
				return fmt.Errorf("%s: schema version %q: %w", DBFile, v, ErrCorrupt)
			}
			schema = n
		}
		return nil
	})
	if err != nil {
		return err
	}
	if schema > SchemaVersion {
		return fmt.Errorf("%s has schema version %d; this kioskd reads up to %d (was it downgraded?)", DBFile, schema, SchemaVersion)
	}
	master, err := queue.LoadKey(r.opt.KeyFile, keyID == "")
	if err != nil {
		return err
	}
	if r.keys, err = deriveKeys(master); err != nil {
		return err
	}
	if keyID != "" && keyID != r.keys.id {
		return fmt.Errorf("%w %s: it is not the key %s was written with", ErrKeyFile, r.opt.KeyFile, DBFile)
	}
	return r.db.Update(func(tx *bolt.Tx) error {
		m, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		for _, b := range [][]byte{bucketStudents, bucketCodes} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if m.Get(keySchema) == nil {
			if err := m.Put(keySchema, []byte(strconv.Itoa(SchemaVersion))); err != nil {
				return err
			}
		}
		if m.Get(keyActive) == nil {
			n := 0
			err := tx.Bucket(bucketStudents).ForEach(func(_, v []byte) error {
				s, err := decodeStudent(v)
				if err == nil && !s.Removed {
					n++
				}
				return err
			})
			if err != nil {
				return err
			}
			if err := m.Put(keyActive, []byte(strconv.Itoa(n))); err != nil {
				return err
			}
		}
		if m.Get(keyKeyID) == nil {
			return m.Put(keyKeyID, []byte(r.keys.id))
		}
		return nil
	})
}

// Close closes roster.db.
func (r *Roster) Close() error {
	if err := r.db.Close(); err != nil {
		return fmt.Errorf("close roster: %w", err)
	}
	return nil
}

// Key returns the roster key of an ID number (normalised first): the hex
// HMAC roster.db is keyed by. It is not the queue's StudentKey.
func (r *Roster) Key(idNumber string) string {
	return hex.EncodeToString(r.keys.studentKey(normalizeLoose(idNumber)))
}

func normalizeLoose(id string) string {
	if n, err := CheckIDNumber(id); err == nil {
		return n
	}
	return strings.ToUpper(strings.TrimSpace(id))
}

// Local is what the station itself knows about a student, set through
// SetLocal by the capture flow and by review outcomes from the queue.
type Local struct {
	State    Status    `json:"state"`              // StatusCapturedHere, StatusApproved or StatusRejected
	RecordID string    `json:"recordId,omitempty"` // the queue record
	Reason   string    `json:"reason,omitempty"`   // why rejected
	At       time.Time `json:"at"`
}

// student is a roster row as stored, in compact JSON (short names: a
// 100,000-student roster.db stays near 40 MB). The ID number and the name
// are sealed together; the masked ID number is in clear for screens and
// the export. Times are Unix nanoseconds.
type student struct {
	Masked         string `json:"m"`
	Sealed         []byte `json:"x"` // AES-GCM(ID number NUL name), bound to the key
	StudentNumber  string `json:"sn,omitempty"`
	School         string `json:"sc,omitempty"`
	Major          string `json:"mj,omitempty"`
	GraduationYear int    `json:"y,omitempty"`
	Status         Status `json:"s"`
	Reason         string `json:"r,omitempty"`
	StatusAt       int64  `json:"sa"` // when Status last changed
	CodeKey        []byte `json:"ck,omitempty"`
	CodeMasked     string `json:"cm,omitempty"`
	Digest         []byte `json:"d"`
	Removed        bool   `json:"rm,omitempty"`
	Local          *Local `json:"l,omitempty"`
	UpdatedAt      int64  `json:"u"`
}

func decodeStudent(b []byte) (*student, error) {
	var s student
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return &s, nil
}

// identity opens a student's sealed ID number and name.
func (r *Roster) identity(key []byte, s *student) (idNumber, name string, err error) {
	plain, err := r.keys.open("identity", key, s.Sealed)
	if err != nil {
		return "", "", err
	}
	idNumber, name, ok := strings.Cut(plain, "\x00")
	if !ok {
		return "", "", fmt.Errorf("identity: %w: no separator", ErrCorrupt)
	}
	return idNumber, name, nil
}

// Match is what Identify found: the student as the booth shows it, with
// the ID number masked, and one State.
type Match struct {
	Key            string `json:"key"`            // roster key (see Roster.Key); empty when not on the roster
	Masked         string `json:"masked"`         // 3301**********123X
	Name           string `json:"name,omitempty"` // for the operator to confirm
	StudentNumber  string `json:"studentNumber,omitempty"`
	School         string `json:"school,omitempty"`
	Major          string `json:"major,omitempty"`
	GraduationYear int    `json:"graduationYear,omitempty"`
	State          Status `json:"state"`
	Reason         string `json:"reason,omitempty"`   // for StatusRejected
	RecordID       string `json:"recordId,omitempty"` // the station's record, when it has one
}

// state combines the source's status and the station's own knowledge
// into the one state the booth shows (rules in the package doc).
func (s *student) state() (Status, string, string) {
	switch {
	case s.Removed:
		return StatusNotOnRoster, "", ""
	case s.Status == StatusApproved || s.Status == StatusCollectedOnline:
		return s.Status, "", ""
	case s.Local != nil && !(s.Status == StatusRejected && s.StatusAt > s.Local.At.UnixNano()):
		return s.Local.State, s.Local.Reason, s.Local.RecordID
	}
	return s.Status, s.Reason, ""
}

// IdentifyByID finds the student with this national ID number and checks
// the name typed with it. An ID number that fails CheckIDNumber returns
// its *IDError; a name that does not match, ErrNameMismatch; an ID number
// not on the roster, a Match with StatusNotOnRoster. Outside the
// collection window it refuses with a *WindowError before looking.
func (r *Roster) IdentifyByID(idNumber, name string) (Match, error) {
	if err := r.opt.Window.Check(r.opt.Now()); err != nil {
		return Match{}, err
	}
	id, err := CheckIDNumber(idNumber)
	if err != nil {
		return Match{}, err
	}
	key := r.keys.studentKey(id)
	m, gotName, err := r.match(key)
	if err != nil || m.State == StatusNotOnRoster {
		m.Masked = queue.Mask(id)
		return m, err
	}
	if NormalizeName(name) != NormalizeName(gotName) {
		return Match{}, ErrNameMismatch
	}
	return m, nil
}

// IdentifyByCode finds the student with this collection code, as a
// scanner types it. An unknown code returns a Match with
// StatusNotOnRoster.
func (r *Roster) IdentifyByCode(code string) (Match, error) {
	if err := r.opt.Window.Check(r.opt.Now()); err != nil {
		return Match{}, err
	}
	code, err := CheckCode(code)
	if err != nil {
		return Match{}, err
	}
	var key []byte
	err = r.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketCodes).Get(r.keys.codeKey(code)); v != nil {
			key = bytes.Clone(v)
		}
		return nil
	})
	if err != nil {
		return Match{}, fmt.Errorf("identify: %w", err)
	}
	if key == nil {
		return Match{State: StatusNotOnRoster, Masked: maskedCode(code)}, nil
	}
	m, _, err := r.match(key)
	return m, err
}

func (r *Roster) match(key []byte) (Match, string, error) {
	var s *student
	err := r.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketStudents).Get(key)
		if v == nil {
			return nil
		}
		var err error
		s, err = decodeStudent(v)
		return err
	})
	if err != nil {
		return Match{}, "", fmt.Errorf("identify: %w", err)
	}
	if s == nil || s.Removed {
		return Match{State: StatusNotOnRoster}, "", nil
	}
	_, name, err := r.identity(key, s)
	if err != nil {
		return Match{}, "", fmt.Errorf("identify: %w", err)
	}
	m := Match{
		Key: hex.EncodeToString(key), Masked: s.Masked, Name: name,
		StudentNumber: s.StudentNumber, School: s.School, Major: s.Major, GraduationYear: s.GraduationYear,
	}
	m.State, m.Reason, m.RecordID = s.state()
	return m, name, nil
}

// NormalizeName is the form in which names are compared: full-width
// letters folded to ASCII, spaces removed, the middle-dot variants of
// transliterated names (•・‧･) made '·', Latin letters in lower case.
func NormalizeName(name string) string {
	name = width.Fold.String(name)
	return strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r):
			return -1
		case r == '•' || r == '・' || r == '‧' || r == '･' || r == '.' || r == '﹒':
			return '·'
		}
		return unicode.ToLower(r)
	}, name)
}

// IDNumber returns the full ID number of the student with roster key key,
// for the queue record the capture flow commits. It is never for a screen.
func (r *Roster) IDNumber(key string) (string, error) {
	k, err := hex.DecodeString(key)
	if err != nil || len(k) != 32 {
		return "", fmt.Errorf("id number: %w", ErrNotFound)
	}
	var s *student
	err = r.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketStudents).Get(k)
		if v == nil {
			return ErrNotFound
		}
		s, err = decodeStudent(v)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("id number: %w", err)
	}
	id, _, err := r.identity(k, s)
	return id, err
}

// SetLocal records what the station knows about the student with roster
// key key: captured here (after the queue commit), or the review outcome
// of that record. l.At defaults to now. It fails with ErrNotFound for an
// unknown key and ErrLocalState for another state.
func (r *Roster) SetLocal(key string, l Local) error {
	switch l.State {
	case StatusCapturedHere, StatusApproved, StatusRejected:
	default:
		return fmt.Errorf("set local state: %w (got %q)", ErrLocalState, l.State)
	}
	k, err := hex.DecodeString(key)
	if err != nil || len(k) != 32 {
		return fmt.Errorf("set local state: %w", ErrNotFound)
	}
	if l.At.IsZero() {
		l.At = r.now()
	}
	err = r.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketStudents)
		v := b.Get(k)
		if v == nil {
			return ErrNotFound
		}
		s, err := decodeStudent(v)
		if err != nil {
			return err
		}
		s.Local = &l
		s.UpdatedAt = r.now().UnixNano()
		enc, err := json.Marshal(s)
		if err != nil {
			return err
		}
		return b.Put(k, enc)
	})
	if err != nil {
		return fmt.Errorf("set local state: %w", err)
	}
	r.log.Info("local state set", "student", s8(key), "state", string(l.State))
	return nil
}

// s8 is a short, non-identifying prefix of a roster key for logs.
func s8(key string) string {
	if len(key) > 8 {
		return key[:8]
	}
	return key
}

func (r *Roster) now() time.Time { return r.opt.Now().Round(0).UTC() }

// Counts returns how many students are in each state (removed ones as
// StatusNotOnRoster).
func (r *Roster) Counts() (map[Status]int, error) {
	out := map[Status]int{}
	err := r.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketStudents).ForEach(func(_, v []byte) error {
			s, err := decodeStudent(v)
			if err != nil {
				return err
			}
			st, _, _ := s.state()
			out[st]++
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("count roster: %w", err)
	}
	return out, nil
}

// sortByKey sorts rows by roster key, so each import batch writes
// neighbouring pages.
func sortByKey(rows []keyed) {
	slices.SortFunc(rows, func(a, b keyed) int { return bytes.Compare(a.key[:], b.key[:]) })
}
