package roster

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// MaxChanges is the most changes (upserts and removals) ApplyChanges takes
// at once: one page of central's roster feed.
const MaxChanges = 1000

// keyFeedCursor is the meta key of central's roster feed cursor.
var keyFeedCursor = []byte("feedCursor")

// ErrTooManyChanges refuses an ApplyChanges page over MaxChanges.
var ErrTooManyChanges = errors.New("too many roster changes in one page")

// Cursor returns the stored cursor of central's roster feed; "" when none
// was stored (the next sync loads the whole roster).
func (r *Roster) Cursor() (string, error) {
	var c string
	err := r.db.View(func(tx *bolt.Tx) error {
		c = string(tx.Bucket(bucketMeta).Get(keyFeedCursor))
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("roster cursor: %w", err)
	}
	return c, nil
}

// feedStatus is the status of a row from central: the wire's words, empty
// meaning eligible. Central cannot set the station's own states.
func feedStatus(s Status) (Status, bool) {
	switch s {
	case "", StatusEligible:
		return StatusEligible, true
	case StatusCollectedOnline, StatusApproved, StatusRejected:
		return s, true
	}
	return "", false
}

// feedRow checks a row from central's feed and keys it; ok is false for a
// row to skip (an ID number that fails CheckIDNumber, an unknown status).
// It normalises row in place and logs a skip without the ID number.
func (r *Roster) feedRow(row *Row) (keyed, bool) {
	id, err := CheckIDNumber(row.IDNumber)
	if err != nil {
		r.log.Warn("roster feed row skipped", "reason", "invalid ID number", "err", err)
		return keyed{}, false
	}
	st, ok := feedStatus(row.Status)
	if !ok {
		r.log.Warn("roster feed row skipped", "reason", "unknown status", "status", clip(string(row.Status), 32))
		return keyed{}, false
	}
	if reason := feedCells(row); reason != "" {
		r.log.Warn("roster feed row skipped", "reason", reason)
		return keyed{}, false
	}
	row.IDNumber, row.Status = id, st
	return keyed{key: [32]byte(r.keys.studentKey(id)), row: row}, true
}

// feedCells checks a feed row's text as the CSV import checks its cells
// (a central is trusted with the roster, not with the booth's memory or
// screen): lengths, valid UTF-8 without control characters, a valid
// collection code, a plausible year. It returns why the row is refused,
// "" when it is fine.
func feedCells(row *Row) string {
	for _, c := range []struct {
		v     string
		limit int
	}{{row.Name, maxCellBytes}, {row.StudentNumber, maxCellBytes}, {row.School, maxCellBytes},
		{row.Major, maxCellBytes}, {row.Reason, 4 * maxCellBytes}} {
		switch {
		case len(c.v) > c.limit:
			return "a cell is too long"
		case !utf8.ValidString(c.v) || strings.ContainsRune(c.v, utf8.RuneError):
			return "a cell is not valid UTF-8"
		case strings.IndexFunc(c.v, isControl) >= 0:
			return "a cell holds control characters"
		}
	}
	if strings.TrimSpace(row.Name) == "" {
		return "the name is empty"
	}
	if row.GraduationYear != 0 && (row.GraduationYear < 1950 || row.GraduationYear > 2100) {
		return "the graduation year is out of range"
	}
	if row.Code != "" {
		code, err := CheckCode(row.Code)
		if err != nil {
			return "the collection code is invalid"
		}
		row.Code = code
	}
	return ""
}

// ApplyChanges applies one page of central's roster feed: upserted rows
// (a new or changed student; the station's local state is kept) and the ID
// numbers of removed students (marked removed, never deleted: their local
// state stays and a later upsert restores them), then stores cursor, all
// in ONE transaction with the code index and the active count. After a
// crash either the whole page and its cursor are stored or neither, and
// applying a page again changes nothing. Removals are applied after the
// upserts. A page holds at most MaxChanges changes (else
// ErrTooManyChanges). A row or removal with an invalid ID number, or a row
// with an unknown status, is skipped and counted in Result.Skipped. Rows
// are normalised in place.
func (r *Roster) ApplyChanges(upserts []Row, removed []string, cursor string) (Result, error) {
	if n := len(upserts) + len(removed); n > MaxChanges {
		return Result{}, fmt.Errorf("apply roster changes: %w: %d, at most %d", ErrTooManyChanges, n, MaxChanges)
	}
	r.importMu.Lock()
	defer r.importMu.Unlock()
	var res Result
	ks := make([]keyed, 0, len(upserts))
	for i := range upserts {
		if k, ok := r.feedRow(&upserts[i]); ok {
			ks = append(ks, k)
		} else {
			res.Skipped++
		}
	}
	sortByKey(ks)
	gone := make([][32]byte, 0, len(removed))
	for _, id := range removed {
		n, err := CheckIDNumber(id)
		if err != nil {
			r.log.Warn("roster feed removal skipped", "reason", "invalid ID number", "err", err)
			res.Skipped++
			continue
		}
		gone = append(gone, [32]byte(r.keys.studentKey(n)))
	}
	now := r.now()
	skipped := res.Skipped
	err := r.db.Update(func(tx *bolt.Tx) error {
		res = Result{Skipped: skipped}
		b := tx.Bucket(bucketStudents)
		var ops []codeOp
		for i := range ks {
			outcome, err := r.put(tx, &ks[i], now, &ops)
			if err != nil {
				return err
			}
			switch outcome {
			case 'a':
				res.Added++
			case 'u':
				res.Updated++
			default:
				res.Unchanged++
			}
		}
		for i := range gone {
			k := gone[i][:]
			v := b.Get(k)
			if v == nil {
				continue // never on this station's roster: nothing to keep
			}
			s, err := decodeStudent(v)
			if err != nil {
				return err
			}
			if s.Removed {
				continue
			}
			if err := markRemoved(b, k, s, now); err != nil {
				return err
			}
			res.Removed++
		}
		if err := addActive(tx, res.Added-res.Removed); err != nil {
			return err
		}
		sortCodeOps(ops)
		if err := r.applyCodeOps(tx, ops); err != nil {
			return err
		}
		return noteImportTx(tx, res, now, &cursor)
	})
	if err != nil {
		return Result{}, fmt.Errorf("apply roster changes: %w", err)
	}
	if res.Added+res.Updated+res.Removed+res.Skipped > 0 {
		r.log.Info("roster changes applied", "added", res.Added, "updated", res.Updated,
			"unchanged", res.Unchanged, "removed", res.Removed, "skipped", res.Skipped)
	}
	return res, nil
}

// ReplaceAll is a full reload from central's feed (read from an empty
// cursor): a Replace import of rows (students absent from them are marked
// removed) whose last transaction also stores cursor. It writes in several
// transactions, like Import, so a crash part-way leaves the old cursor and
// the next sync loads the whole roster again. Rows with an invalid ID
// number or an unknown status are skipped and counted in Result.Skipped;
// then nobody is removed (RemovalSkipped), since a skipped row may be a
// student still on the roster. Rows must list each student once
// (ErrBadRows otherwise) and are normalised in place.
func (r *Roster) ReplaceAll(rows []Row, cursor string) (Result, error) {
	res, err := r.importRows(rows, Replace, 0, importFeed{skipInvalid: true, cursor: &cursor})
	if err != nil {
		return res, fmt.Errorf("replace roster: %w", err)
	}
	return res, nil
}
