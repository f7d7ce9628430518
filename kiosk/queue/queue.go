package queue

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Defaults for Options fields left zero.
const (
	DefaultMinFree     = 500 << 20          // bytes that must stay free for a new commit
	DefaultTimeout     = 2 * time.Second    // how long Open waits for the lock on queue.db
	DefaultOrphanGrace = time.Hour          // age before Reconcile removes an unreferenced blob
	DefaultRetention   = 7 * 24 * time.Hour // how long local copies outlive central's receipt
)

// SchemaVersion is the layout of queue.db this package writes. Open refuses a
// file with a newer version rather than misread it.
const SchemaVersion = 1

// Files and folders inside the queue's directory.
const (
	DBFile     = "queue.db"
	KeyFile    = "queue.key"
	BlobDir    = "blobs"
	tempPrefix = ".tmp-"
)

// Errors callers branch on.
var (
	// ErrDiskFull refuses a new commit when free space is under Options.MinFree.
	// Reading, state changes and purging keep working.
	ErrDiskFull = errors.New("磁盘空间不足，已暂停新的采集；已保存的记录仍会继续上传 / disk almost full: new captures are refused; saved records still upload")
	// ErrLocked means another process (another kioskd) holds queue.db.
	ErrLocked = errors.New("queue.db is in use by another process (is another kioskd running?)")
	// ErrKeyFile means queue.key is missing, unsafe or malformed; the message names the file.
	ErrKeyFile = errors.New("bad key file")
	// ErrNotFound means no record has the ID.
	ErrNotFound = errors.New("record not found")
	// ErrCorrupt means stored data failed authentication or its SHA-256.
	ErrCorrupt = errors.New("corrupt data")
	// ErrIllegalTransition is matched by every *TransitionError.
	ErrIllegalTransition = errors.New("illegal state transition")
	// ErrPurged means the record's local copies were purged.
	ErrPurged = errors.New("record purged")
)

// TransitionError is a refused state change.
type TransitionError struct {
	ID       string
	From, To State
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("record %s: %s → %s: %v", e.ID, e.From, e.To, ErrIllegalTransition)
}

// Is makes errors.Is(err, ErrIllegalTransition) hold.
func (e *TransitionError) Is(target error) bool { return target == ErrIllegalTransition }

// Options tune a Queue; zero fields take the Default* values.
type Options struct {
	// MinFree is the free space, in bytes, under which Commit refuses with
	// ErrDiskFull.
	MinFree int64
	// FreeSpace reports the bytes available in dir; statfs by default.
	FreeSpace func(dir string) (int64, error)
	// Timeout bounds the wait for the lock on queue.db.
	Timeout time.Duration
	// OrphanGrace is how old an unreferenced blob or temp file must be
	// before Reconcile removes it; negative means no wait.
	OrphanGrace time.Duration
	// KeyFile is where the key lives; KeyFile in dir by default. Putting it
	// on other storage (a TPM-sealed or removable volume) keeps a copy of
	// dir alone from being readable.
	KeyFile string
	// Now is the clock for IDs, timestamps and the orphan grace age;
	// time.Now by default.
	Now func() time.Time
	// Logger receives state changes of the store; discarded when nil.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.MinFree == 0 {
		o.MinFree = DefaultMinFree
	}
	if o.FreeSpace == nil {
		o.FreeSpace = freeSpace
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.OrphanGrace == 0 {
		o.OrphanGrace = DefaultOrphanGrace
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Buckets and meta keys in queue.db.
var (
	bucketMeta    = []byte("meta")
	bucketRecords = []byte("records")   // UUIDv7 (16 bytes) → Record JSON
	bucketState   = []byte("idx_state") // state code (1 byte) || UUIDv7 → empty
	keySchema     = []byte("schema")
	keyKeyID      = []byte("keyId")
	keyCreated    = []byte("created")
)

// Queue is the durable, encrypted record queue. Its methods are safe for
// concurrent use; each state change is its own bbolt transaction.
type Queue struct {
	dir  string
	db   *bolt.DB
	keys *keys
	opt  Options
	log  *slog.Logger
	ids  UUIDGen

	// blobMu keeps blob removal away from commits in flight: Commit holds
	// it shared from its first blob write until its record is committed, so
	// a file it wrote is referenced before Reconcile or Purge (which hold it
	// exclusively while they decide and delete) can see it unreferenced.
	blobMu sync.RWMutex
}

// Open opens (or creates) the queue in dir: queue.db, the blobs folder and
// queue.key. A queue.db held by another process fails after
// Options.Timeout with ErrLocked; a key file readable by group or others,
// of the wrong size, or not matching queue.db fails with ErrKeyFile.
// Uploads interrupted by the last stop go back to queued.
func Open(dir string, opt Options) (*Queue, error) {
	opt = opt.withDefaults()
	if err := os.MkdirAll(filepath.Join(dir, BlobDir), 0o700); err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	path := filepath.Join(dir, DBFile)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opt.Timeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open queue %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open queue %s: %w", path, err)
	}
	q := &Queue{dir: dir, db: db, opt: opt, log: opt.Logger.With("component", "queue")}
	if err := q.init(); err != nil {
		db.Close()
		return nil, err
	}
	return q, nil
}

// Close closes queue.db. Commits and state changes after Close fail.
func (q *Queue) Close() error {
	if err := q.db.Close(); err != nil {
		return fmt.Errorf("close queue: %w", err)
	}
	return nil
}

// Dir returns the queue's directory.
func (q *Queue) Dir() string { return q.dir }

func (q *Queue) init() error {
	var (
		keyID  string
		schema int
	)
	err := q.db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return fmt.Errorf("%s fails its integrity check: %w", DBFile, err)
		}
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
		if c := tx.Bucket(bucketRecords); c != nil {
			if k, _ := c.Cursor().Last(); len(k) == 16 {
				q.ids.Seed(UUID(k))
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("open queue: %w", err)
	}
	if schema > SchemaVersion {
		return fmt.Errorf("open queue: %s has schema version %d; this kioskd reads up to %d (was it downgraded?)", DBFile, schema, SchemaVersion)
	}
	master, err := LoadKey(q.keyPath(), keyID == "")
	if err != nil {
		return fmt.Errorf("open queue: %w", err)
	}
	if q.keys, err = deriveKeys(master); err != nil {
		return fmt.Errorf("open queue: %w", err)
	}
	if keyID != "" && keyID != q.keys.id {
		return fmt.Errorf("open queue: %w %s: it is not the key %s was written with", ErrKeyFile, q.keyPath(), DBFile)
	}
	requeued := 0
	err = q.db.Update(func(tx *bolt.Tx) error {
		m, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if m.Get(keySchema) == nil {
			if err := m.Put(keySchema, []byte(strconv.Itoa(SchemaVersion))); err != nil {
				return err
			}
			if err := m.Put(keyCreated, []byte(q.now().Format(time.RFC3339Nano))); err != nil {
				return err
			}
		}
		if err := m.Put(keyKeyID, []byte(q.keys.id)); err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(bucketRecords); err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(bucketState); err != nil {
			return err
		}
		// Nothing can be uploading while we hold the lock: those records
		// were interrupted by a crash or a stop. Resending is safe (central
		// answers a repeat with the same receipt).
		ids, err := idsInState(tx, StateUploading)
		if err != nil {
			return err
		}
		now := q.now()
		for _, id := range ids {
			r, err := getRecord(tx, id)
			if err != nil {
				return err
			}
			r.LastError = "interrupted by a restart"
			if err := putRecord(tx, &r, StateQueued, now); err != nil {
				return err
			}
		}
		requeued = len(ids)
		return nil
	})
	if err != nil {
		return fmt.Errorf("open queue: %w", err)
	}
	if requeued > 0 {
		q.log.Info("queue requeued interrupted uploads", "records", requeued)
	}
	return nil
}

// LoadKey reads the station key file at path: a regular file of 32 bytes
// that group and others cannot read, else ErrKeyFile with the fix. When
// it is missing and create is set (nothing sealed with it exists yet), a
// new random key is written with mode 0600, atomically, never replacing a
// key another store (the roster) made meanwhile. The record queue and the
// roster share this file, each deriving keys of its own from it.
func LoadKey(path string, create bool) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		if !create {
			return nil, fmt.Errorf("%w %s: missing, but data sealed with it exists", ErrKeyFile, path)
		}
		return createKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrKeyFile, path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrKeyFile, path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w %s: not a regular file", ErrKeyFile, path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%w %s: mode %04o lets group or others read it; run chmod 600 on it", ErrKeyFile, path, perm)
	}
	if st.Size() != keySize {
		return nil, fmt.Errorf("%w %s: %d bytes, want %d", ErrKeyFile, path, st.Size(), keySize)
	}
	key := make([]byte, keySize)
	if _, err := io.ReadFull(f, key); err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrKeyFile, path, err)
	}
	return key, nil
}

// createKey writes 32 random bytes to path with mode 0600, atomically: a
// crash leaves no key file or a whole one, and an existing file is never
// replaced.
func createKey(path string) ([]byte, error) {
	key := make([]byte, keySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("create key %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	tmp, err := writeTemp(dir, key)
	if err != nil {
		return nil, fmt.Errorf("create key %s: %w", path, err)
	}
	defer os.Remove(tmp)
	// Link, not rename: a key another store made meanwhile is kept.
	if err := os.Link(tmp, path); errors.Is(err, fs.ErrExist) {
		return LoadKey(path, false)
	} else if err != nil {
		return nil, fmt.Errorf("create key %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		return nil, fmt.Errorf("create key %s: %w", path, err)
	}
	return key, nil
}

// writeTemp writes data to a new temp file in dir (mode 0600) and fsyncs it.
func writeTemp(dir string, data []byte) (string, error) {
	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	_, err = f.Write(data)
	if err == nil {
		// A failed fsync may have dropped the pages: the caller must
		// start again with a new file, never retry this one.
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (q *Queue) keyPath() string {
	if q.opt.KeyFile != "" {
		return q.opt.KeyFile
	}
	return filepath.Join(q.dir, KeyFile)
}

func (q *Queue) now() time.Time { return q.opt.Now().Round(0).UTC() }

func (q *Queue) blobPath(sum string) string { return filepath.Join(q.dir, BlobDir, sum) }

// StudentKey returns the lookup key Commit stores for idNumber: an
// HMAC-SHA256 under a key derived from queue.key, never the number itself.
func (q *Queue) StudentKey(idNumber string) string { return q.keys.studentKey(idNumber) }

// Identity is a record's student identity in clear.
type Identity struct {
	IDNumber string
	Name     string
}

// Identity decrypts r's ID number and name. It fails with ErrPurged after
// Purge and with ErrCorrupt if the sealed fields do not authenticate.
func (q *Queue) Identity(r Record) (Identity, error) {
	if r.Purged() {
		return Identity{}, fmt.Errorf("identity of %s: %w", r.ID, ErrPurged)
	}
	id, err := q.keys.open("idNumber", r.StudentKey, r.IDNumberSealed)
	if err != nil {
		return Identity{}, fmt.Errorf("identity of %s: %w", r.ID, err)
	}
	name, err := q.keys.open("name", r.StudentKey, r.NameSealed)
	if err != nil {
		return Identity{}, fmt.Errorf("identity of %s: %w", r.ID, err)
	}
	return Identity{IDNumber: id, Name: name}, nil
}

func (q *Queue) checkFree(need int64) error {
	free, err := q.opt.FreeSpace(q.dir)
	if err != nil {
		return fmt.Errorf("check free space: %w", err)
	}
	if free >= 0 && free-need < q.opt.MinFree {
		return fmt.Errorf("%w (%d MB free, %d MB reserved)", ErrDiskFull, free>>20, q.opt.MinFree>>20)
	}
	return nil
}

// Commit saves a capture: both blobs are encrypted and written durably as
// blobs/<sha256 of the plaintext>, then one bbolt transaction makes the
// record's ID and stores the record in state queued. When Commit returns
// nil the record survives a crash or a power cut; when it fails or the
// process dies first, no record exists (orphan blobs are left for
// Reconcile). Commit refuses with ErrDiskFull when free space is short.
func (q *Queue) Commit(nr NewRecord, photo, original []byte) (Record, error) {
	if err := nr.check(); err != nil {
		return Record{}, fmt.Errorf("commit: %w", err)
	}
	if len(photo) == 0 || len(original) == 0 {
		return Record{}, fmt.Errorf("commit: photo and original are required")
	}
	if err := q.checkFree(int64(len(photo) + len(original))); err != nil {
		return Record{}, fmt.Errorf("commit: %w", err)
	}
	sk := q.keys.studentKey(nr.IDNumber)
	idSealed, err := q.keys.seal("idNumber", sk, normalizeID(nr.IDNumber))
	if err != nil {
		return Record{}, fmt.Errorf("commit: %w", err)
	}
	nameSealed, err := q.keys.seal("name", sk, strings.TrimSpace(nr.Name))
	if err != nil {
		return Record{}, fmt.Errorf("commit: %w", err)
	}

	q.blobMu.RLock()
	defer q.blobMu.RUnlock()
	refs, err := q.putBlobs(photo, original)
	if err != nil {
		return Record{}, fmt.Errorf("commit: %w", err)
	}
	var rec Record
	err = q.db.Update(func(tx *bolt.Tx) error {
		now := q.now()
		id, err := q.ids.New(now)
		if err != nil {
			return err
		}
		rec = Record{
			ID:             id.String(),
			StationID:      nr.StationID,
			Operator:       nr.Operator,
			StudentKey:     sk,
			Masked:         Mask(nr.IDNumber),
			IDNumberSealed: idSealed,
			NameSealed:     nameSealed,
			Spec:           nr.Spec,
			Background:     nr.Background,
			CreatedAt:      now,
			Fee:            nr.Fee,
			Consent:        nr.Consent,
			Measurements:   nr.Measurements,
			Report:         nr.Report,
			Photo:          refs[0],
			Original:       refs[1],
			RetakeOf:       nr.RetakeOf,
		}
		return putRecord(tx, &rec, StateQueued, now)
	})
	if err != nil {
		return Record{}, fmt.Errorf("commit record: %w", err)
	}
	return rec, nil
}

func (nr NewRecord) check() error {
	switch {
	case strings.TrimSpace(nr.StationID) == "":
		return errors.New("station ID is required")
	case normalizeID(nr.IDNumber) == "":
		return errors.New("ID number is required")
	case strings.TrimSpace(nr.Spec) == "":
		return errors.New("spec is required")
	case len(nr.Measurements) > 0 && !json.Valid(nr.Measurements):
		return errors.New("measurements are not valid JSON")
	case len(nr.Report) > 0 && !json.Valid(nr.Report):
		return errors.New("report is not valid JSON")
	}
	if nr.RetakeOf != "" {
		if _, err := ParseUUID(nr.RetakeOf); err != nil {
			return fmt.Errorf("retakeOf: %w", err)
		}
	}
	return nil
}

// putBlobs writes each blob (temp file, fsync, rename) and then fsyncs the
// folder once for all of them.
func (q *Queue) putBlobs(blobs ...[]byte) ([]BlobRef, error) {
	dir := filepath.Join(q.dir, BlobDir)
	refs := make([]BlobRef, len(blobs))
	temps := make([]string, len(blobs))
	defer func() {
		for _, t := range temps {
			if t != "" {
				os.Remove(t)
			}
		}
	}()
	// Seal and write the blobs in parallel: each fsync waits for the disk,
	// and two in flight cost little more than one. Every goroutine is
	// waited for before putBlobs returns.
	errs := make([]error, len(blobs))
	var wg sync.WaitGroup
	for i, b := range blobs {
		sum := sha256.Sum256(b)
		refs[i] = BlobRef{SHA256: hex.EncodeToString(sum[:]), Size: int64(len(b))}
		wg.Go(func() {
			sealed, err := q.keys.sealBlob(b, sum[:])
			if err == nil {
				temps[i], err = writeTemp(dir, sealed)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("write blob: %w", err)
	}
	for i, t := range temps {
		if err := os.Rename(t, q.blobPath(refs[i].SHA256)); err != nil {
			return nil, fmt.Errorf("write blob: %w", err)
		}
		temps[i] = ""
	}
	if err := syncDir(dir); err != nil {
		return nil, fmt.Errorf("write blob: sync %s: %w", BlobDir, err)
	}
	return refs, nil
}

// Blob reads, decrypts and verifies the blob ref names. A file that does not
// authenticate, or whose plaintext has another SHA-256 or size, is
// ErrCorrupt; a missing one matches fs.ErrNotExist.
func (q *Queue) Blob(ref BlobRef) ([]byte, error) {
	if err := ref.valid(); err != nil {
		return nil, fmt.Errorf("blob: %w: %v", ErrCorrupt, err)
	}
	b, err := os.ReadFile(q.blobPath(ref.SHA256))
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", short(ref.SHA256), err)
	}
	return q.keys.openBlob(b, ref)
}

// Get returns the record with the ID, or ErrNotFound.
func (q *Queue) Get(id string) (Record, error) {
	u, err := ParseUUID(id)
	if err != nil {
		return Record{}, fmt.Errorf("get %q: %w", id, ErrNotFound)
	}
	var r Record
	err = q.db.View(func(tx *bolt.Tx) error {
		r, err = getRecord(tx, u)
		return err
	})
	return r, err
}

func getRecord(tx *bolt.Tx, id UUID) (Record, error) {
	v := tx.Bucket(bucketRecords).Get(id[:])
	if v == nil {
		return Record{}, fmt.Errorf("record %s: %w", id, ErrNotFound)
	}
	r, err := DecodeRecord(v) // copies out of the mmap
	if err != nil {
		return Record{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return r, nil
}

// putRecord stores r in state to, moving its state index entry in the same
// transaction.
func putRecord(tx *bolt.Tx, r *Record, to State, now time.Time) error {
	u, err := ParseUUID(r.ID)
	if err != nil {
		return err
	}
	idx := tx.Bucket(bucketState)
	if r.State != "" && r.State != to {
		if err := idx.Delete(stateKey(r.State, u)); err != nil {
			return err
		}
	}
	r.State = to
	r.UpdatedAt = now
	b, err := encodeRecord(*r)
	if err != nil {
		return err
	}
	if len(b) > maxRecordSize {
		return fmt.Errorf("record %s: %d bytes is over the %d limit", r.ID, len(b), maxRecordSize)
	}
	if err := tx.Bucket(bucketRecords).Put(u[:], b); err != nil {
		return err
	}
	return idx.Put(stateKey(to, u), []byte{})
}

func stateKey(s State, id UUID) []byte {
	k := make([]byte, 17)
	k[0] = s.code()
	copy(k[1:], id[:])
	return k
}

// idsInState lists the IDs in state s, oldest first, at most n (all if n <= 0).
func idsInState(tx *bolt.Tx, s State, n ...int) ([]UUID, error) {
	limit := 0
	if len(n) > 0 {
		limit = n[0]
	}
	prefix := []byte{s.code()}
	var ids []UUID
	c := tx.Bucket(bucketState).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(k) != 17 {
			return nil, fmt.Errorf("state index key %x: %w", k, ErrCorrupt)
		}
		ids = append(ids, UUID(k[1:]))
		if limit > 0 && len(ids) == limit {
			break
		}
	}
	return ids, nil
}

// Next returns up to n records in state s, oldest first (all of them if
// n <= 0). The uplink asks for Next(StateQueued, n).
func (q *Queue) Next(s State, n int) ([]Record, error) {
	if !s.Valid() {
		return nil, fmt.Errorf("next: unknown state %q", s)
	}
	var out []Record
	err := q.db.View(func(tx *bolt.Tx) error {
		ids, err := idsInState(tx, s, n)
		if err != nil {
			return err
		}
		for _, id := range ids {
			r, err := getRecord(tx, id)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("next %s: %w", s, err)
	}
	return out, nil
}

// Oldest returns the oldest record in state s; ok is false when there is none.
func (q *Queue) Oldest(s State) (r Record, ok bool, err error) {
	rs, err := q.Next(s, 1)
	if err != nil || len(rs) == 0 {
		return Record{}, false, err
	}
	return rs[0], true, nil
}

// Counts returns the number of records in each state (every state present).
func (q *Queue) Counts() (map[State]int, error) {
	counts := make(map[State]int, len(States))
	for _, s := range States {
		counts[s] = 0
	}
	err := q.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketState).ForEach(func(k, _ []byte) error {
			if len(k) != 17 || int(k[0]) < 1 || int(k[0]) > len(States) {
				return fmt.Errorf("state index key %x: %w", k, ErrCorrupt)
			}
			counts[States[k[0]-1]]++
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("counts: %w", err)
	}
	return counts, nil
}

// List returns up to n records (all if n <= 0) in ID order, that is in
// the order they were committed, starting after the ID after ("" for the
// first).
func (q *Queue) List(after string, n int) ([]Record, error) {
	var start []byte
	if after != "" {
		u, err := ParseUUID(after)
		if err != nil {
			return nil, fmt.Errorf("list: %w", err)
		}
		start = u[:]
	}
	var out []Record
	err := q.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketRecords).Cursor()
		var k, v []byte
		if start == nil {
			k, v = c.First()
		} else if k, v = c.Seek(start); k != nil && bytes.Equal(k, start) {
			k, v = c.Next()
		}
		for ; k != nil && (n <= 0 || len(out) < n); k, v = c.Next() {
			r, err := DecodeRecord(v)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrCorrupt, err)
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	return out, nil
}
