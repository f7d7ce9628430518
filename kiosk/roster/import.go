package roster

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"kioskd/kiosk/queue"
)

// Result counts what an import changed. Errors and Warnings come from the
// CSV decoder (ImportCSV); Import of rows alone leaves them empty.
type Result struct {
	Added     int // new students, or removed ones listed again
	Updated   int // students whose data changed
	Unchanged int // students listed with the same data
	Removed   int // students not listed by a Replace import, now marked removed
	// Skipped counts rows of central's feed (ApplyChanges, ReplaceAll) left
	// out for an invalid ID number or an unknown status; a ReplaceAll that
	// skipped rows removes nobody (RemovalSkipped), as with row errors.
	Skipped int
	// RemovalSkipped is set when a Replace import had row errors: the rows
	// left out could be students still on the roster, so nobody was
	// marked removed. Fix the file and import it again.
	RemovalSkipped bool
	Errors         []*RowError
	Warnings       []*RowError
	Encoding       string
	Ignored        []string
}

// keyed is a row with its roster key, computed once.
type keyed struct {
	key [32]byte
	row *Row
}

// ImportCSV decodes a roster CSV file (see Decode) and imports its valid
// rows with mode. Nothing is written when the file as a whole is refused.
func (r *Roster) ImportCSV(src io.Reader, mode Mode) (Result, error) {
	d, err := Decode(src)
	if err != nil {
		return Result{}, fmt.Errorf("import roster: %w", err)
	}
	res, err := r.importRows(d.Rows, mode, len(d.Errors), importFeed{})
	res.Errors, res.Warnings, res.Encoding, res.Ignored = d.Errors, d.Warnings, d.Encoding, d.Ignored
	return res, err
}

// Import writes rows (from central's roster feed, or a decoded file) in
// transactions of Options.BatchSize rows. A row replaces the stored
// student with the same ID number; the station's own state (SetLocal) is
// kept. With Replace, students not in rows are marked removed. Rows must
// hold ID numbers that pass CheckIDNumber (Import normalises them in
// place), each once (else ErrBadRows, and nothing is written), and unique
// collection codes; a code that belonged to another student moves to this
// one.
func (r *Roster) Import(rows []Row, mode Mode) (Result, error) {
	return r.importRows(rows, mode, 0, importFeed{})
}

// importFeed is what a feed import (ReplaceAll) adds to importRows.
type importFeed struct {
	skipInvalid bool    // leave out rows with a bad ID number or status, counting them in Result.Skipped
	cursor      *string // stored in the import's last transaction
}

// importRows imports rows; rowErrors is how many rows of the source were
// left out, which stops a Replace from removing anyone.
func (r *Roster) importRows(rows []Row, mode Mode, rowErrors int, feed importFeed) (Result, error) {
	r.importMu.Lock()
	defer r.importMu.Unlock()
	start := time.Now()
	var res Result
	ks := make([]keyed, 0, len(rows))
	for i := range rows {
		if feed.skipInvalid {
			if k, ok := r.feedRow(&rows[i]); ok {
				ks = append(ks, k)
			} else {
				res.Skipped++
			}
			continue
		}
		id, err := CheckIDNumber(rows[i].IDNumber)
		if err != nil {
			return res, fmt.Errorf("import roster: row %d: %w", i+1, err)
		}
		rows[i].IDNumber = id
		ks = append(ks, keyed{key: [32]byte(r.keys.studentKey(id)), row: &rows[i]})
	}
	rowErrors += res.Skipped
	sortByKey(ks)
	for i := 1; i < len(ks); i++ {
		if ks[i].key == ks[i-1].key {
			return res, fmt.Errorf("import roster: %w: %s appears twice", ErrBadRows, ks[i].row.Masked())
		}
	}
	now := r.now()
	var codeOps []codeOp
	for first := 0; first < len(ks); first += r.opt.BatchSize {
		batch := ks[first:min(first+r.opt.BatchSize, len(ks))]
		var added, updated, unchanged int
		var ops []codeOp
		err := r.db.Update(func(tx *bolt.Tx) error {
			added, updated, unchanged, ops = 0, 0, 0, ops[:0]
			// Rows come in key order: pack pages instead of bbolt's
			// half-full default, which suits random inserts.
			tx.Bucket(bucketStudents).FillPercent = 0.9
			for i := range batch {
				outcome, err := r.put(tx, &batch[i], now, &ops)
				if err != nil {
					return err
				}
				switch outcome {
				case 'a':
					added++
				case 'u':
					updated++
				default:
					unchanged++
				}
			}
			return addActive(tx, added)
		})
		if err != nil {
			return res, fmt.Errorf("import roster: %w", err)
		}
		res.Added += added
		res.Updated += updated
		res.Unchanged += unchanged
		codeOps = append(codeOps, ops...)
	}
	if err := r.applyCodes(codeOps); err != nil {
		return res, fmt.Errorf("import roster: %w", err)
	}
	if mode == Replace {
		if rowErrors > 0 {
			res.RemovalSkipped = true
		} else {
			n, err := r.removeAbsent(ks, now)
			res.Removed = n
			if err != nil {
				return res, fmt.Errorf("import roster: %w", err)
			}
		}
	}
	if err := r.noteImport(res, now, feed.cursor); err != nil {
		return res, fmt.Errorf("import roster: %w", err)
	}
	r.log.Info("roster imported", "added", res.Added, "updated", res.Updated, "unchanged", res.Unchanged,
		"removed", res.Removed, "removalSkipped", res.RemovalSkipped, "rowErrors", rowErrors, "skipped", res.Skipped,
		"elapsed", time.Since(start).Round(time.Millisecond))
	return res, nil
}

// put writes one row and says what it did: 'a'dded, 'u'pdated or 'n'o change.
// k.key must stay valid until the transaction ends (bbolt keeps it).
func (r *Roster) put(tx *bolt.Tx, k *keyed, now time.Time, codeOps *[]codeOp) (byte, error) {
	b := tx.Bucket(bucketStudents)
	key := k.key[:]
	digest := r.keys.rowDigest(k.row)
	var old *student
	if v := b.Get(key); v != nil {
		var err error
		if old, err = decodeStudent(v); err != nil {
			return 0, err
		}
		if !old.Removed && bytes.Equal(old.Digest, digest) {
			if old.CodeKey != nil {
				// Checked again in applyCodes: repairs an index left
				// behind by a crash between the two phases.
				*codeOps = append(*codeOps, newCodeOp(old.CodeKey, key, false))
			}
			return 'n', nil
		}
	}
	s := &student{
		Masked: queue.Mask(k.row.IDNumber), StudentNumber: k.row.StudentNumber, School: k.row.School,
		Major: k.row.Major, GraduationYear: k.row.GraduationYear, Status: k.row.Status, Reason: k.row.Reason,
		StatusAt: now.UnixNano(), Digest: digest, UpdatedAt: now.UnixNano(),
	}
	if s.Status != StatusRejected {
		s.Reason = ""
	}
	var err error
	if s.Sealed, err = r.keys.seal("identity", key, k.row.IDNumber+"\x00"+k.row.Name); err != nil {
		return 0, err
	}
	if k.row.Code != "" {
		s.CodeKey, s.CodeMasked = r.keys.codeKey(k.row.Code), maskedCode(k.row.Code)
	}
	if old != nil {
		s.Local = old.Local
		if old.Status == s.Status && old.Reason == s.Reason && !old.Removed {
			s.StatusAt = old.StatusAt // the status did not change: keep when it did
		}
		if old.CodeKey != nil && !bytes.Equal(old.CodeKey, s.CodeKey) {
			*codeOps = append(*codeOps, newCodeOp(old.CodeKey, key, true))
		}
	}
	if s.CodeKey != nil {
		*codeOps = append(*codeOps, newCodeOp(s.CodeKey, key, false))
	}
	enc, err := json.Marshal(s)
	if err != nil {
		return 0, err
	}
	if err := b.Put(key, enc); err != nil {
		return 0, err
	}
	if old == nil || old.Removed {
		return 'a', nil
	}
	return 'u', nil
}

// codeOp is a change to the collection code index, applied after the
// students: deletes first, then puts, each in code order, so a batch
// touches neighbouring pages rather than the whole index.
type codeOp struct {
	code, key [32]byte
	del       bool // remove code if it still points at key
}

func newCodeOp(code, key []byte, del bool) codeOp {
	return codeOp{code: [32]byte(code), key: [32]byte(key), del: del}
}

func (r *Roster) applyCodes(ops []codeOp) error {
	sortCodeOps(ops)
	for start := 0; start < len(ops); start += r.opt.BatchSize {
		batch := ops[start:min(start+r.opt.BatchSize, len(ops))]
		if err := r.db.Update(func(tx *bolt.Tx) error { return r.applyCodeOps(tx, batch) }); err != nil {
			return err
		}
	}
	return nil
}

// sortCodeOps puts deletes first, then puts, each in code order.
func sortCodeOps(ops []codeOp) {
	slices.SortFunc(ops, func(a, b codeOp) int {
		if a.del != b.del {
			if a.del {
				return -1
			}
			return 1
		}
		return bytes.Compare(a.code[:], b.code[:])
	})
}

// applyCodeOps applies sorted code index changes inside the caller's
// transaction. ops must stay valid until it ends (bbolt keeps the keys).
func (r *Roster) applyCodeOps(tx *bolt.Tx, ops []codeOp) error {
	b, codes := tx.Bucket(bucketStudents), tx.Bucket(bucketCodes)
	codes.FillPercent = 0.9 // puts come in key order
	for i := range ops {
		op := &ops[i] // its arrays stay valid for the transaction, as bbolt needs
		cur := codes.Get(op.code[:])
		if op.del {
			if bytes.Equal(cur, op.key[:]) {
				if err := codes.Delete(op.code[:]); err != nil {
					return err
				}
			}
			continue
		}
		if bytes.Equal(cur, op.key[:]) {
			continue
		}
		if cur != nil {
			// The code moves: the student who had it loses it.
			if err := r.dropCode(b, bytes.Clone(cur), op.code[:]); err != nil {
				return err
			}
		}
		if err := codes.Put(op.code[:], op.key[:]); err != nil {
			return err
		}
	}
	return nil
}

// dropCode clears a collection code from the student who had it before.
func (r *Roster) dropCode(b *bolt.Bucket, key, code []byte) error {
	v := b.Get(key)
	if v == nil {
		return nil
	}
	s, err := decodeStudent(v)
	if err != nil {
		return err
	}
	if !bytes.Equal(s.CodeKey, code) {
		return nil
	}
	s.CodeKey, s.CodeMasked = nil, ""
	enc, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return b.Put(key, enc)
}

// removeAbsent marks every student not in ks as removed. Keys are
// collected first and changed in batches (deleting or writing while a
// cursor walks can skip keys).
func (r *Roster) removeAbsent(ks []keyed, now time.Time) (int, error) {
	var gone [][]byte
	err := r.db.View(func(tx *bolt.Tx) error {
		if active(tx) == len(ks) {
			// Every active student was just imported: nothing to remove,
			// and no need to read the whole file to find that out.
			return nil
		}
		c := tx.Bucket(bucketStudents).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if _, found := slices.BinarySearchFunc(ks, k, func(a keyed, t []byte) int { return bytes.Compare(a.key[:], t) }); found {
				continue
			}
			s, err := decodeStudent(v)
			if err != nil {
				return err
			}
			if !s.Removed {
				gone = append(gone, bytes.Clone(k))
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for start := 0; start < len(gone); start += r.opt.BatchSize {
		batch := gone[start:min(start+r.opt.BatchSize, len(gone))]
		err := r.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketStudents)
			for _, k := range batch {
				s, err := decodeStudent(b.Get(k))
				if err != nil {
					return err
				}
				if err := markRemoved(b, k, s, now); err != nil {
					return err
				}
			}
			return addActive(tx, -len(batch))
		})
		if err != nil {
			return start, err
		}
	}
	return len(gone), nil
}

// markRemoved stores s, the student under key k, marked removed.
func markRemoved(b *bolt.Bucket, k []byte, s *student, now time.Time) error {
	s.Removed, s.StatusAt, s.UpdatedAt = true, now.UnixNano(), now.UnixNano()
	enc, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return b.Put(k, enc)
}

// active reads the count of students not marked removed, kept in meta so
// a Replace import that lists everyone can skip the removal scan.
func active(tx *bolt.Tx) int {
	n, _ := strconv.Atoi(string(tx.Bucket(bucketMeta).Get(keyActive)))
	return n
}

func addActive(tx *bolt.Tx, delta int) error {
	if delta == 0 {
		return nil
	}
	return tx.Bucket(bucketMeta).Put(keyActive, []byte(strconv.Itoa(active(tx)+delta)))
}

type importNote struct {
	At                                 time.Time
	Added, Updated, Unchanged, Removed int
}

// noteImport records the import's time and counts and, for a feed import,
// its cursor: the import's last transaction.
func (r *Roster) noteImport(res Result, now time.Time, cursor *string) error {
	return r.db.Update(func(tx *bolt.Tx) error { return noteImportTx(tx, res, now, cursor) })
}

func noteImportTx(tx *bolt.Tx, res Result, now time.Time, cursor *string) error {
	enc, err := json.Marshal(importNote{At: now, Added: res.Added, Updated: res.Updated, Unchanged: res.Unchanged, Removed: res.Removed})
	if err != nil {
		return err
	}
	m := tx.Bucket(bucketMeta)
	if err := m.Put(keyLastImport, enc); err != nil {
		return err
	}
	if cursor != nil {
		return m.Put(keyFeedCursor, []byte(*cursor))
	}
	return nil
}

// LastImport returns when the last import finished; zero if none has.
func (r *Roster) LastImport() (time.Time, error) {
	var n importNote
	err := r.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyLastImport); v != nil {
			return json.Unmarshal(v, &n)
		}
		return nil
	})
	return n.At, err
}

// ExportHeader is the header row Export writes.
var ExportHeader = []string{"身份证号(已遮蔽)/id_number(masked)", "姓名/name", "学号/student_number", "学校/school",
	"专业/major", "毕业年份/graduation_year", "状态/state", "原因/reason"}

// Export writes the roster as a reconciliation list: UTF-8 CSV with a BOM
// (so Excel reads it), ID numbers masked, one row per student with the
// state Identify would show. Cells that a spreadsheet would run as a
// formula (starting with = + - @, tab or CR) are written with a leading
// apostrophe, so a hostile name never runs when the list is opened.
func (r *Roster) Export(w io.Writer) error {
	if _, err := io.WriteString(w, "\uFEFF"); err != nil {
		return fmt.Errorf("export roster: %w", err)
	}
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(ExportHeader); err != nil {
		return fmt.Errorf("export roster: %w", err)
	}
	err := r.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketStudents).ForEach(func(k, v []byte) error {
			s, err := decodeStudent(v)
			if err != nil {
				return err
			}
			_, name, err := r.identity(k, s)
			if err != nil {
				return err
			}
			st, reason, _ := s.state()
			year := ""
			if s.GraduationYear != 0 {
				year = strconv.Itoa(s.GraduationYear)
			}
			rec := []string{s.Masked, name, s.StudentNumber, s.School, s.Major, year, string(st), reason}
			for i := range rec {
				rec[i] = EscapeCell(rec[i])
			}
			return cw.Write(rec)
		})
	})
	if err != nil {
		return fmt.Errorf("export roster: %w", err)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("export roster: %w", err)
	}
	return nil
}

// EscapeCell returns v made safe for a spreadsheet: a value that would run
// as a formula gets a leading apostrophe, which spreadsheets show as text.
func EscapeCell(v string) string {
	if formulaLike(v) {
		return "'" + v
	}
	return v
}
