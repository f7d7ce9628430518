package queue

import (
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Review outcomes, as central sends them.
const (
	OutcomeApproved = "approved"
	OutcomeRejected = "rejected"
)

// Review is a review outcome from central for one of this station's
// records. Receipt is the record's receipt in the canonical encoding the
// uplink stores (so a record whose upload answer was lost can settle).
type Review struct {
	RecordID string
	Outcome  string // OutcomeApproved or OutcomeRejected
	Reason   string // why rejected; required for a rejection
	Receipt  string
}

// ApplyResult is what ApplyReviews did with one page of reviews.
type ApplyResult struct {
	Approved  int      // records moved to approved
	Rejected  int      // records moved to rejected
	Unchanged int      // records already in the outcome given (a page applied again)
	Skipped   []string // record IDs not applied: unknown here, parked, or contradicting
}

// bucketCursors holds each feed's cursor (name → cursor). It is made by the
// first ApplyReviews, so a queue.db written before it existed needs no
// migration.
var bucketCursors = []byte("cursors")

// Cursor returns the stored cursor of the feed name (the uplink uses
// "reviews"); "" when none was stored.
func (q *Queue) Cursor(name string) (string, error) {
	var c string
	err := q.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketCursors); b != nil {
			c = string(b.Get([]byte(name)))
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("cursor %s: %w", name, err)
	}
	return c, nil
}

// errSkip marks a review that cannot be applied to its record; the record
// is listed in ApplyResult.Skipped and the page goes on.
var errSkip = errors.New("skip")

// ApplyReviews applies a page of review outcomes and stores cursor as the
// feed name's cursor, all in ONE bbolt transaction: after a crash either
// both happened or neither, and applying the same page again changes
// nothing.
//
// For each review: an accepted record becomes approved, or rejected with
// the reason; a queued or uploading record (its upload answer was lost)
// first takes Receipt and AcceptedAt, then the outcome; a record already in
// that outcome is left as it is. An unknown record ID, a parked record, a
// contradicting outcome (approved for a rejected record or the other way
// round), or a review without the receipt the record needs is skipped and
// listed in Skipped: central's feed must not stop at it. An error means
// nothing was written, the cursor included.
func (q *Queue) ApplyReviews(name string, rs []Review, cursor string) (ApplyResult, error) {
	var res ApplyResult
	if name == "" {
		return res, errors.New("apply reviews: empty feed name")
	}
	err := q.db.Update(func(tx *bolt.Tx) error {
		res = ApplyResult{}
		now := q.now()
		for _, rv := range rs {
			st, err := applyReview(tx, rv, now)
			switch {
			case errors.Is(err, errSkip):
				res.Skipped = append(res.Skipped, rv.RecordID)
				continue
			case err != nil:
				return err
			}
			switch st {
			case StateApproved:
				res.Approved++
			case StateRejected:
				res.Rejected++
			default:
				res.Unchanged++
			}
		}
		b, err := tx.CreateBucketIfNotExists(bucketCursors)
		if err != nil {
			return err
		}
		if cursor == "" {
			return b.Delete([]byte(name))
		}
		return b.Put([]byte(name), []byte(cursor))
	})
	if err != nil {
		return ApplyResult{}, fmt.Errorf("apply reviews: %w", err)
	}
	return res, nil
}

// applyReview applies one review inside tx. It returns the state the
// record moved to, "" when it was already there, or an error wrapping
// errSkip when the review does not apply.
func applyReview(tx *bolt.Tx, rv Review, now time.Time) (State, error) {
	var to State
	switch rv.Outcome {
	case OutcomeApproved:
		to = StateApproved
	case OutcomeRejected:
		if rv.Reason == "" {
			return "", errSkip
		}
		to = StateRejected
	default:
		return "", errSkip
	}
	u, err := ParseUUID(rv.RecordID)
	if err != nil {
		return "", errSkip
	}
	r, err := getRecord(tx, u)
	if errors.Is(err, ErrNotFound) {
		return "", errSkip
	}
	if err != nil {
		return "", err
	}
	switch r.State {
	case to:
		return "", nil
	case StateApproved, StateRejected:
		return "", errSkip
	case StateQueued, StateUploading, StateParked:
		// The upload's answer was lost but central holds the record
		// (the caller checked the receipt against the record): the
		// review's receipt settles it, even one parked since (a blob
		// went missing before the retry: central has its copy).
		if rv.Receipt == "" {
			return "", errSkip
		}
		r.Receipt = rv.Receipt
		r.AcceptedAt = now
		r.LastError = ""
		r.Reason = ""
	}
	if to == StateRejected {
		r.Reason = rv.Reason
	}
	r.ReviewedAt = now
	if err := putRecord(tx, &r, to, now); err != nil {
		return "", err
	}
	return to, nil
}

// MarkExported notes that the records went into a USB bundle (kioskd
// export): ExportedAt is set to at, the state is unchanged (central still
// has to accept them, from the bundle or a later upload). All IDs are
// marked in one transaction; an unknown ID fails it with ErrNotFound.
func (q *Queue) MarkExported(ids []string, at time.Time) error {
	at = at.Round(0).UTC()
	err := q.db.Update(func(tx *bolt.Tx) error {
		now := q.now()
		for _, id := range ids {
			u, err := ParseUUID(id)
			if err != nil {
				return fmt.Errorf("record %q: %w", id, ErrNotFound)
			}
			r, err := getRecord(tx, u)
			if err != nil {
				return err
			}
			r.ExportedAt = at
			if err := putRecord(tx, &r, r.State, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark exported: %w", err)
	}
	return nil
}
