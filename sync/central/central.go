package central

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"kioskd/sync/wire"
)

// Files and folders inside a central data folder.
const (
	DBFile         = "central.db"
	BlobDir        = "blobs"
	AdminTokenFile = "admin.token"
	StationsFile   = "stations"
	tempPrefix     = ".tmp-"
)

// DefaultTimeout is how long Open waits for the lock on central.db.
const DefaultTimeout = 2 * time.Second

// rosterBatch is the most students one roster transaction writes.
const rosterBatch = 10_000

// Errors callers branch on. The HTTP handlers answer each with the
// protocol's code (docs/sync-protocol.md).
var (
	// ErrLocked means another process holds central.db.
	ErrLocked = errors.New("central.db is in use by another process (is kioskd central running?)")
	// ErrForbidden: the token's station may not write this (403 forbidden).
	ErrForbidden = errors.New("this station may not write another station's data")
	// ErrConflict: another manifest is stored under the record ID (409 record_conflict).
	ErrConflict = errors.New("another manifest is stored under this record ID")
	// ErrRetakeConflict: retake_of names a record of another student (409 retake_conflict).
	ErrRetakeConflict = errors.New("retake_of names a record of another student")
	// ErrHashMismatch: a blob's bytes do not hash to its name (422 hash_mismatch).
	ErrHashMismatch = errors.New("the blob's bytes do not hash to its name")
	// ErrTooLarge: a blob is over Options.MaxBlobBytes (413 too_large).
	ErrTooLarge = errors.New("over the size limit")
	// ErrNotFound: no such record (404 not_found).
	ErrNotFound = errors.New("no such record")
	// ErrReviewed: the record already has the other review outcome (409 record_conflict).
	ErrReviewed = errors.New("the record was already reviewed with the other outcome")
	// ErrCursorGone: a cursor of another epoch or past the feed's end (410 cursor_gone).
	ErrCursorGone = errors.New("cursor from another epoch or past the end: reload from an empty cursor")
	// ErrBadCursor: a cursor that is not one (400 bad_request).
	ErrBadCursor = errors.New("malformed cursor")
)

// MissingBlobsError lists the blobs a manifest names that central does not
// hold (412 missing_blobs).
type MissingBlobsError struct {
	Missing []string // SHA-256s, lower-case hex
}

// Error lists the missing SHA-256s.
func (e *MissingBlobsError) Error() string {
	return fmt.Sprintf("upload these blobs first: %s", strings.Join(e.Missing, ", "))
}

// Options tune a Server; zero fields take their defaults.
type Options struct {
	// Logger receives state changes; discarded when nil. The server never
	// logs ID numbers or names.
	Logger *slog.Logger
	// Now is the clock for receipts, reviews and heartbeats; time.Now when nil.
	Now func() time.Time
	// MaxBlobBytes is the largest blob accepted; wire.MaxBlobBytes when 0.
	MaxBlobBytes int64
	// Timeout bounds the wait for the lock on central.db; DefaultTimeout when 0.
	Timeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxBlobBytes <= 0 {
		o.MaxBlobBytes = wire.MaxBlobBytes
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	return o
}

// Buckets and meta keys of central.db.
var (
	bucketMeta       = []byte("meta")
	bucketRecords    = []byte("records")
	bucketBySeq      = []byte("byseq")
	bucketByStation  = []byte("bystation")
	bucketRoster     = []byte("roster")
	bucketRosterLog  = []byte("rosterlog")
	bucketReviews    = []byte("reviews")
	bucketHeartbeats = []byte("heartbeats")
	allBuckets       = [][]byte{bucketMeta, bucketRecords, bucketBySeq, bucketByStation, bucketRoster,
		bucketRosterLog, bucketReviews, bucketHeartbeats}
	keyEpoch   = []byte("epoch")
	keyCreated = []byte("created")
)

// Server is a central server on one data folder. Its methods are safe for
// concurrent use.
type Server struct {
	dir      string
	db       *bolt.DB
	opt      Options
	log      *slog.Logger
	epoch    string
	admin    string
	adminSum [sha256.Size]byte
	stations *stationSet
	handler  http.Handler

	// importMu lets one roster import run at a time: an import decides
	// removals from a snapshot of the roster taken between its batches.
	importMu sync.Mutex
}

// Open opens or creates a central data folder dir (mode 0700): central.db,
// the blobs folder, admin.token and the stations file (which may be
// absent). A central.db held by another process fails after
// Options.Timeout with ErrLocked. Temp files a crash left in the blobs
// folder are removed.
func Open(dir string, opt Options) (*Server, error) {
	opt = opt.withDefaults()
	if err := os.MkdirAll(filepath.Join(dir, BlobDir), 0o700); err != nil {
		return nil, fmt.Errorf("open central %s: %w", dir, err)
	}
	admin, err := loadAdminToken(filepath.Join(dir, AdminTokenFile))
	if err != nil {
		return nil, fmt.Errorf("open central %s: %w", dir, err)
	}
	s := &Server{
		dir:      dir,
		opt:      opt,
		log:      opt.Logger.With("component", "central"),
		admin:    admin,
		adminSum: sha256.Sum256([]byte(admin)),
	}
	s.stations = newStationSet(filepath.Join(dir, StationsFile), s.log)
	if err := s.stations.load(); err != nil {
		return nil, fmt.Errorf("open central %s: %w", dir, err)
	}
	// The database's lock first: temp files belong to the server that
	// holds it, and a second Open must not touch a running server's
	// uploads.
	path := filepath.Join(dir, DBFile)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opt.Timeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open central %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open central %s: %w", path, err)
	}
	if err := s.removeTemps(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open central %s: %w", dir, err)
	}
	s.db = db
	if err := s.init(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open central %s: %w", path, err)
	}
	s.handler = s.routes()
	s.log.Info("central opened", "epoch", s.epoch, "stations", s.stations.count())
	return s, nil
}

// init makes the buckets and the epoch of a new database, and reads the
// epoch of an existing one.
func (s *Server) init() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("bucket %s: %w", name, err)
			}
		}
		m := tx.Bucket(bucketMeta)
		if e := m.Get(keyEpoch); e != nil {
			s.epoch = string(e)
			if !validEpoch(s.epoch) {
				return fmt.Errorf("stored epoch %q is malformed", s.epoch)
			}
			return nil
		}
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return fmt.Errorf("make epoch: %w", err)
		}
		s.epoch = hex.EncodeToString(b[:])
		if err := m.Put(keyEpoch, []byte(s.epoch)); err != nil {
			return err
		}
		return m.Put(keyCreated, []byte(s.now().Format(time.RFC3339Nano)))
	})
}

// Close closes central.db. Serving after Close fails with 500s.
func (s *Server) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close central: %w", err)
	}
	return nil
}

// Handler returns the HTTP handler: every /v1 route and the /admin/ page,
// with authentication.
func (s *Server) Handler() http.Handler { return s.handler }

// AdminToken returns the admin token (the password of the admin page).
func (s *Server) AdminToken() string { return s.admin }

// Epoch returns the database's epoch: 16 hex characters made when it was
// created.
func (s *Server) Epoch() string { return s.epoch }

func (s *Server) now() time.Time { return s.opt.Now().Round(0).UTC() }

// removeTemps deletes temp files a crash left in the blobs folder. Open
// runs it before any request can be writing one.
func (s *Server) removeTemps() error {
	dir := filepath.Join(s.dir, BlobDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read blobs: %w", err)
	}
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove temp file: %w", err)
			}
			n++
		}
	}
	if n > 0 {
		s.log.Info("removed temp files", "count", n)
	}
	return nil
}

// newToken returns 32 random bytes in base64url without padding (43 characters).
func newToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("make token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// validToken reports whether t has the shape newToken makes.
func validToken(t string) bool {
	b, err := base64.RawURLEncoding.DecodeString(t)
	return err == nil && len(b) == 32
}

// loadAdminToken reads the admin token, making it first when the file is
// absent. A file readable by group or others, or not holding a token, is
// refused.
func loadAdminToken(path string) (string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createAdminToken(path)
	}
	if err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("admin token %s: not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("admin token %s: mode %04o lets group or others read it; run chmod 600 on it", path, perm)
	}
	b, err := io.ReadAll(io.LimitReader(f, 256))
	if err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if !validToken(t) {
		return "", fmt.Errorf("admin token %s: not 32 bytes in base64url", path)
	}
	return t, nil
}

// createAdminToken writes a new token to path with mode 0600, atomically
// (temp file, fsync, link, fsync the folder), never replacing a token
// another process made meanwhile.
func createAdminToken(path string) (string, error) {
	t, err := newToken()
	if err != nil {
		return "", err
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return "", fmt.Errorf("create admin token: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.WriteString(t + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("create admin token: %w", err)
	}
	if err := os.Link(tmp, path); errors.Is(err, fs.ErrExist) {
		return loadAdminToken(path)
	} else if err != nil {
		return "", fmt.Errorf("create admin token: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return "", fmt.Errorf("create admin token: %w", err)
	}
	return t, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// be8 is n as 8 bytes big-endian: byte order is numeric order.
func be8(n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return b[:]
}

// stationKey is station, 0, seq: one station's entries in seq order, and
// no station's prefix is another's.
func stationKey(station string, seq uint64) []byte {
	k := make([]byte, 0, len(station)+9)
	k = append(k, station...)
	k = append(k, 0)
	return append(k, be8(seq)...)
}
