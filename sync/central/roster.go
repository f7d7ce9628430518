package central

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"

	"kioskd/kiosk/roster"
	"kioskd/sync/wire"
)

// rosterEntry is a student's value in the roster bucket.
type rosterEntry struct {
	Row     wire.RosterStudent `json:"row"`    // as the file last gave it
	Digest  []byte             `json:"digest"` // SHA-256 of Row's JSON
	Seq     uint64             `json:"seq"`    // the student's entry in rosterlog
	Deleted bool               `json:"deleted,omitempty"`
	Review  *reviewStatus      `json:"review,omitempty"` // a review outcome newer than the file's status
}

// reviewStatus is the status a review outcome gave a student.
type reviewStatus struct {
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// served is the row the feed gives: the file's row with a newer review
// outcome's status.
func (e *rosterEntry) served() wire.RosterStudent {
	row := e.Row
	if e.Review != nil {
		row.Status, row.Reason = e.Review.Status, e.Review.Reason
	}
	return row
}

func getEntry(b *bolt.Bucket, key []byte) (*rosterEntry, error) {
	v := b.Get(key)
	if v == nil {
		return nil, nil
	}
	var e rosterEntry
	if err := json.Unmarshal(v, &e); err != nil {
		return nil, fmt.Errorf("roster entry: %w", err)
	}
	return &e, nil
}

// putEntry stores e under key with the roster's next seq, replacing the
// student's older rosterlog entry so each student is in the feed once.
func putEntry(tx *bolt.Tx, key []byte, e *rosterEntry) error {
	log := tx.Bucket(bucketRosterLog)
	if e.Seq != 0 {
		if err := log.Delete(be8(e.Seq)); err != nil {
			return err
		}
	}
	seq, err := log.NextSequence()
	if err != nil {
		return err
	}
	e.Seq = seq
	if err := log.Put(be8(seq), key); err != nil {
		return err
	}
	v, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketRoster).Put(key, v)
}

// RosterResult counts what an import changed.
type RosterResult struct {
	Added     int    `json:"added"`     // new students, or listed again after a removal
	Updated   int    `json:"updated"`   // rows that changed
	Unchanged int    `json:"unchanged"` // rows as they were
	Removed   int    `json:"removed"`   // students no longer listed
	Warnings  int    `json:"warnings"`  // rows imported with a note (kiosk/roster's Decoded.Warnings)
	Encoding  string `json:"encoding"`  // the file's encoding as detected
}

// RosterError refuses a roster file: the file as a whole (no Lines) or the
// rows listed. Problems are kiosk/roster's messages, which never hold a
// full ID number.
type RosterError struct {
	Lines    []int
	Problems []string
}

// Error says, in Chinese and English, that nothing was imported, and
// names the problem or the lines (at most 50).
func (e *RosterError) Error() string {
	if len(e.Lines) == 0 {
		return "名单文件无法导入 / roster file refused: " + strings.Join(e.Problems, "; ")
	}
	lines := make([]string, 0, min(len(e.Lines), 50))
	for _, l := range e.Lines[:min(len(e.Lines), 50)] {
		lines = append(lines, strconv.Itoa(l))
	}
	more := ""
	if len(e.Lines) > 50 {
		more = fmt.Sprintf(" … (%d in all)", len(e.Lines))
	}
	return fmt.Sprintf("名单有 %d 行错误，整个文件未导入 / roster refused, nothing changed: %d rows with errors, lines %s%s",
		len(e.Lines), len(e.Lines), strings.Join(lines, ", "), more)
}

// imported is one decoded row ready to store.
type imported struct {
	key    []byte
	row    wire.RosterStudent
	digest []byte
}

// ImportRoster replaces central's roster with a roster CSV file (the
// station's format, decoded by kiosk/roster). A file that cannot be read
// as a roster, or has any row error, is a *RosterError and changes
// nothing. Otherwise new and changed rows get a new roster seq, unchanged
// rows keep theirs, and students absent from the file get a delete entry.
// A student's review outcome stays over the file's status until a file
// changes that student's status column. Writes go in transactions of at
// most 10,000 students; a failed import is completed by running it again.
func (s *Server) ImportRoster(csv io.Reader) (RosterResult, error) {
	d, err := roster.Decode(csv)
	if err != nil {
		if !isRosterFileError(err) {
			return RosterResult{}, fmt.Errorf("import roster: %w", err) // reading failed
		}
		return RosterResult{}, fmt.Errorf("import roster: %w", &RosterError{Problems: []string{err.Error()}})
	}
	if len(d.Errors) > 0 {
		re := &RosterError{}
		for _, e := range d.Errors {
			re.Lines = append(re.Lines, e.Line)
			if len(re.Problems) < 20 {
				re.Problems = append(re.Problems, e.Error())
			}
		}
		return RosterResult{}, fmt.Errorf("import roster: %w", re)
	}
	rows := make([]imported, 0, len(d.Rows))
	for _, r := range d.Rows {
		im := imported{key: rosterKey(r.IDNumber), row: wire.RosterStudent{
			IDNumber: r.IDNumber, Name: r.Name, StudentNumber: r.StudentNumber, School: r.School,
			Major: r.Major, GraduationYear: r.GraduationYear, Status: string(r.Status), Reason: r.Reason, Code: r.Code,
		}}
		b, err := json.Marshal(im.row)
		if err != nil {
			return RosterResult{}, fmt.Errorf("import roster: %w", err)
		}
		sum := sha256.Sum256(b)
		im.digest = sum[:]
		rows = append(rows, im)
	}
	// Key order keeps each transaction's writes on neighbouring pages.
	slices.SortFunc(rows, func(a, b imported) int { return bytes.Compare(a.key, b.key) })

	s.importMu.Lock()
	defer s.importMu.Unlock()
	res := RosterResult{Warnings: len(d.Warnings), Encoding: d.Encoding}
	for start := 0; start < len(rows); start += rosterBatch {
		batch := rows[start:min(start+rosterBatch, len(rows))]
		err := s.db.Update(func(tx *bolt.Tx) error {
			var added, updated, unchanged int
			b := tx.Bucket(bucketRoster)
			for i := range batch {
				im := &batch[i]
				e, err := getEntry(b, im.key)
				if err != nil {
					return err
				}
				switch {
				case e == nil:
					e = &rosterEntry{}
					added++
				case e.Deleted:
					added++
				case bytes.Equal(e.Digest, im.digest):
					unchanged++
					continue
				default:
					updated++
				}
				if e.Row.Status != im.row.Status {
					e.Review = nil // the file's new status is newer than a review
				}
				e.Row, e.Digest, e.Deleted = im.row, im.digest, false
				if err := putEntry(tx, im.key, e); err != nil {
					return err
				}
			}
			// Counted only once the transaction commits (bbolt may not retry
			// Update, but a failed one must not count).
			res.Added += added
			res.Updated += updated
			res.Unchanged += unchanged
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("import roster: %w", err)
		}
	}
	removed, err := s.removeAbsent(rows)
	res.Removed = removed
	if err != nil {
		return res, fmt.Errorf("import roster: %w", err)
	}
	s.log.Info("roster imported", "added", res.Added, "updated", res.Updated,
		"unchanged", res.Unchanged, "removed", res.Removed)
	return res, nil
}

// isRosterFileError reports whether err is kiosk/roster refusing the file
// itself (as opposed to failing to read it).
func isRosterFileError(err error) bool {
	var tl *roster.LineTooLongError
	for _, e := range []error{roster.ErrEmptyFile, roster.ErrNoRows, roster.ErrEncoding, roster.ErrHeader, roster.ErrTooManyRows} {
		if errors.Is(err, e) {
			return true
		}
	}
	return errors.As(err, &tl)
}

// removeAbsent gives every listed student not in rows a delete entry,
// in transactions of at most rosterBatch students.
func (s *Server) removeAbsent(rows []imported) (int, error) {
	listed := make(map[[sha256.Size]byte]struct{}, len(rows))
	for _, r := range rows {
		listed[[sha256.Size]byte(r.key)] = struct{}{}
	}
	var absent [][]byte
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRoster).ForEach(func(k, v []byte) error {
			if _, ok := listed[[sha256.Size]byte(k)]; ok {
				return nil
			}
			var e struct {
				Deleted bool `json:"deleted"`
			}
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("roster entry: %w", err)
			}
			if !e.Deleted {
				absent = append(absent, bytes.Clone(k))
			}
			return nil
		})
	})
	if err != nil {
		return 0, err
	}
	removed := 0
	for start := 0; start < len(absent); start += rosterBatch {
		batch := absent[start:min(start+rosterBatch, len(absent))]
		err := s.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketRoster)
			for _, key := range batch {
				e, err := getEntry(b, key)
				if err != nil {
					return err
				}
				if e == nil || e.Deleted {
					continue
				}
				// The tombstone keeps the ID number (a station keys its roster
				// by it) and the status, nothing else.
				e.Deleted, e.Digest = true, nil
				e.Row = wire.RosterStudent{IDNumber: e.Row.IDNumber, Status: e.Row.Status}
				if err := putEntry(tx, key, e); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return removed, err
		}
		removed += len(batch)
	}
	return removed, nil
}

// rosterPage reads the roster changes after cursor since: at most limit,
// oldest first.
func (s *Server) rosterPage(since string, limit int) (wire.RosterPage, error) {
	page := wire.RosterPage{Changes: []wire.RosterChange{}}
	err := s.db.View(func(tx *bolt.Tx) error {
		log := tx.Bucket(bucketRosterLog)
		head := log.Sequence()
		from, err := s.parseCursor(since, head)
		if err != nil {
			return err
		}
		b := tx.Bucket(bucketRoster)
		last := from
		c := log.Cursor()
		k, v := c.Seek(be8(from + 1))
		for ; k != nil && len(page.Changes) < limit; k, v = c.Next() {
			e, err := getEntry(b, v)
			if err != nil {
				return err
			}
			if e == nil {
				return fmt.Errorf("roster log entry %x names no student", k)
			}
			ch := wire.RosterChange{Op: wire.OpUpsert, Student: e.served()}
			if e.Deleted {
				ch = wire.RosterChange{Op: wire.OpDelete, Student: wire.RosterStudent{IDNumber: e.Row.IDNumber}}
			}
			page.Changes = append(page.Changes, ch)
			last = e.Seq
		}
		page.More = k != nil
		if !page.More {
			last = head
		}
		page.Next = s.cursor(last)
		return nil
	})
	if err != nil {
		return wire.RosterPage{}, fmt.Errorf("roster feed: %w", err)
	}
	return page, nil
}

// setRosterStatus gives the student under key the status a review
// outcome set, with a new roster seq; a student not on central's roster
// (or removed from it) is left alone.
func setRosterStatus(tx *bolt.Tx, key []byte, rs reviewStatus) error {
	b := tx.Bucket(bucketRoster)
	e, err := getEntry(b, key)
	if err != nil || e == nil || e.Deleted {
		return err
	}
	if e.Review != nil && *e.Review == rs {
		return nil
	}
	e.Review = &rs
	return putEntry(tx, key, e)
}
