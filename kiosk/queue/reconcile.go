package queue

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Report is what Reconcile found and did.
type Report struct {
	Records        int      // records examined
	Verified       int      // records whose blobs all verified (purged ones are not counted)
	Damaged        []Damage // records with a missing or corrupt blob, marked and reported
	Repaired       int      // records marked damaged before whose blobs verify again
	Parked         int      // damaged records moved from queued to parked
	IndexFixed     int      // state index entries added or removed to match the records
	OrphansRemoved int      // blob files no record references, removed
	OrphansKept    int      // unreferenced blob files younger than the grace age, kept for now
	TempsRemoved   int      // temp files of writes that never finished, removed
}

// Damage names a record whose blobs are not whole, and why.
type Damage struct {
	ID     string
	Reason string
}

type recordBlobs struct {
	id       UUID
	damage   string
	photo    BlobRef
	original BlobRef
}

// Reconcile makes the blob folder and queue.db agree; call it at start-up
// (it is safe at any time, but it reads every blob).
//
//   - Every record that is not purged has its blobs read and verified. A
//     record with a missing or corrupt blob is never dropped: Damage is set
//     and it is listed in the report; a queued one is parked so the uplink
//     does not send it.
//   - The state index is checked against the records and repaired.
//   - Temp files and blob files that no unpurged record references are
//     removed once they are older than Options.OrphanGrace. They are what a
//     crash between writing blobs and committing the record leaves (the
//     capture was never reported saved), or what a crash in Purge leaves.
//     The grace age is a second guard: Commit also holds off removal from
//     its first blob write to its commit, so within this process a commit
//     in flight can never lose its blobs.
func (q *Queue) Reconcile() (Report, error) {
	var rep Report
	if err := q.fixIndex(&rep); err != nil {
		return rep, fmt.Errorf("reconcile: %w", err)
	}
	var all []recordBlobs
	err := q.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRecords).ForEach(func(k, v []byte) error {
			rep.Records++
			r, err := DecodeRecord(v)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrCorrupt, err)
			}
			if !r.Purged() {
				all = append(all, recordBlobs{id: UUID(k), damage: r.Damage, photo: r.Photo, original: r.Original})
			}
			return nil
		})
	})
	if err != nil {
		return rep, fmt.Errorf("reconcile: %w", err)
	}
	// Verify outside any transaction: reading blobs takes time and a long
	// read transaction would stall commits when bbolt grows its map.
	changed := map[UUID]string{}
	for _, rb := range all {
		damage := q.verify("photo", rb.photo)
		if d := q.verify("original", rb.original); d != "" {
			damage = strings.TrimPrefix(damage+"; "+d, "; ")
		}
		if damage == "" {
			rep.Verified++
		} else {
			rep.Damaged = append(rep.Damaged, Damage{ID: rb.id.String(), Reason: damage})
		}
		if damage != rb.damage {
			changed[rb.id] = damage
		}
	}
	if len(changed) > 0 {
		if err := q.markDamage(changed, &rep); err != nil {
			return rep, fmt.Errorf("reconcile: %w", err)
		}
	}
	if err := q.removeOrphans(&rep); err != nil {
		return rep, fmt.Errorf("reconcile: %w", err)
	}
	for _, d := range rep.Damaged {
		q.log.Warn("queue record damaged", "record", d.ID, "reason", d.Reason)
	}
	q.log.Info("queue reconciled", "records", rep.Records, "verified", rep.Verified,
		"damaged", len(rep.Damaged), "orphansRemoved", rep.OrphansRemoved,
		"orphansKept", rep.OrphansKept, "tempsRemoved", rep.TempsRemoved, "indexFixed", rep.IndexFixed)
	return rep, nil
}

func (q *Queue) verify(what string, ref BlobRef) string {
	_, err := q.Blob(ref)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("%s blob %s missing", what, short(ref.SHA256))
	case errors.Is(err, ErrCorrupt):
		return fmt.Sprintf("%s blob %s corrupt", what, short(ref.SHA256))
	default:
		return fmt.Sprintf("%s blob %s unreadable: %v", what, short(ref.SHA256), err)
	}
}

// markDamage records each record's damage (or its repair); a damaged
// queued record is parked.
func (q *Queue) markDamage(changed map[UUID]string, rep *Report) error {
	return q.db.Update(func(tx *bolt.Tx) error {
		now := q.now()
		for id, damage := range changed {
			r, err := getRecord(tx, id)
			if err != nil {
				return err
			}
			if r.Purged() {
				continue // purged meanwhile: its blobs are meant to be gone
			}
			if damage == "" {
				r.Damage, r.DamagedAt = "", time.Time{}
				rep.Repaired++
			} else {
				r.Damage, r.DamagedAt = damage, now
			}
			to := r.State
			if damage != "" && r.State == StateQueued {
				to = StateParked
				r.Reason = "blob damaged: " + damage
				r.LastError = r.Reason
				rep.Parked++
			}
			if err := putRecord(tx, &r, to, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// fixIndex makes the state index hold exactly one entry per record, under
// its state. Commits keep it so; this catches damage from outside.
func (q *Queue) fixIndex(rep *Report) error {
	return q.db.Update(func(tx *bolt.Tx) error {
		want := map[string]bool{}
		err := tx.Bucket(bucketRecords).ForEach(func(k, v []byte) error {
			r, err := DecodeRecord(v)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrCorrupt, err)
			}
			if len(k) != 16 || r.ID != UUID(k).String() {
				return fmt.Errorf("record key %x holds %s: %w", k, r.ID, ErrCorrupt)
			}
			want[string(stateKey(r.State, UUID(k)))] = true
			return nil
		})
		if err != nil {
			return err
		}
		idx := tx.Bucket(bucketState)
		var stray [][]byte
		err = idx.ForEach(func(k, _ []byte) error {
			if want[string(k)] {
				delete(want, string(k))
			} else {
				stray = append(stray, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		// Collect first, then change: deleting under a cursor skips keys.
		for _, k := range stray {
			if err := idx.Delete(k); err != nil {
				return err
			}
			rep.IndexFixed++
		}
		for k := range want {
			if err := idx.Put([]byte(k), []byte{}); err != nil {
				return err
			}
			rep.IndexFixed++
		}
		return nil
	})
}

// referenced returns the blob hashes unpurged records refer to.
func referenced(tx *bolt.Tx) (map[string]bool, error) {
	refs := map[string]bool{}
	err := tx.Bucket(bucketRecords).ForEach(func(_, v []byte) error {
		r, err := DecodeRecord(v)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		if !r.Purged() {
			refs[r.Photo.SHA256] = true
			refs[r.Original.SHA256] = true
		}
		return nil
	})
	return refs, err
}

func (q *Queue) removeOrphans(rep *Report) error {
	q.blobMu.Lock()
	defer q.blobMu.Unlock()
	var refs map[string]bool
	err := q.db.View(func(tx *bolt.Tx) (err error) {
		refs, err = referenced(tx)
		return err
	})
	if err != nil {
		return err
	}
	dir := filepath.Join(q.dir, BlobDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	cutoff := q.opt.Now().Add(-q.opt.OrphanGrace)
	removed := false
	for _, e := range entries {
		name := e.Name()
		temp := strings.HasPrefix(name, tempPrefix)
		if !temp && (refs[name] || (BlobRef{SHA256: name, Size: 1}).valid() != nil) {
			continue // referenced, or not ours: leave it alone
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if q.opt.OrphanGrace > 0 && info.ModTime().After(cutoff) {
			if !temp {
				rep.OrphansKept++
			}
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		removed = true
		if temp {
			rep.TempsRemoved++
		} else {
			rep.OrphansRemoved++
		}
	}
	if removed {
		return syncDir(dir)
	}
	return nil
}

// Purge deletes the local blobs of records central accepted more than
// retention ago (DefaultRetention if retention <= 0), and their sealed ID
// number and name; the record stays, marked purged, with its masked ID,
// student key, hashes and receipt. A blob another unpurged record still
// refers to is kept. It returns how many records it purged.
//
// The record is marked before its files are removed, so a crash in between
// leaves orphan files for Reconcile, never a record whose blobs are gone
// without saying so.
func (q *Queue) Purge(now time.Time, retention time.Duration) (int, error) {
	if retention <= 0 {
		retention = DefaultRetention
	}
	var sums []string
	purged := 0
	err := q.db.Update(func(tx *bolt.Tx) error {
		var due []UUID
		err := tx.Bucket(bucketRecords).ForEach(func(k, v []byte) error {
			r, err := DecodeRecord(v)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrCorrupt, err)
			}
			if !r.Purged() && !r.AcceptedAt.IsZero() && now.Sub(r.AcceptedAt) >= retention {
				due = append(due, UUID(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		stamp := now.Round(0).UTC()
		for _, id := range due {
			r, err := getRecord(tx, id)
			if err != nil {
				return err
			}
			r.PurgedAt = stamp
			r.IDNumberSealed, r.NameSealed = nil, nil
			if err := putRecord(tx, &r, r.State, q.now()); err != nil {
				return err
			}
			sums = append(sums, r.Photo.SHA256, r.Original.SHA256)
		}
		purged = len(due)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("purge: %w", err)
	}
	if len(sums) == 0 {
		return 0, nil
	}
	if err := q.removeBlobs(sums); err != nil {
		return purged, fmt.Errorf("purge: %w", err)
	}
	q.log.Info("queue purged local copies", "records", purged)
	return purged, nil
}

// removeBlobs deletes the named blobs that no unpurged record refers to.
func (q *Queue) removeBlobs(sums []string) error {
	q.blobMu.Lock()
	defer q.blobMu.Unlock()
	var refs map[string]bool
	err := q.db.View(func(tx *bolt.Tx) (err error) {
		refs, err = referenced(tx)
		return err
	})
	if err != nil {
		return err
	}
	for _, s := range sums {
		if refs[s] {
			continue
		}
		if err := os.Remove(q.blobPath(s)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return syncDir(filepath.Join(q.dir, BlobDir))
}
