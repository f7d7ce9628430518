package central

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"kioskd/sync/wire"
)

// maxReasonBytes is the longest rejection reason (wire's limit).
const maxReasonBytes = 512

// checkReviewRequest validates a review request as wire does, and also
// refuses a reason that is not clean UTF-8 text (it is shown on booth
// screens). It returns the request with the reason trimmed.
func checkReviewRequest(rq wire.ReviewRequest) (wire.ReviewRequest, error) {
	rq.Reason = strings.TrimSpace(rq.Reason)
	switch {
	case !wire.ValidRecordID(rq.RecordID):
		return rq, fmt.Errorf("%w: record_id is not a version 7 UUID", wire.ErrInvalid)
	case rq.Outcome != wire.OutcomeApproved && rq.Outcome != wire.OutcomeRejected:
		return rq, fmt.Errorf("%w: outcome must be approved or rejected", wire.ErrInvalid)
	case rq.Outcome == wire.OutcomeRejected && rq.Reason == "":
		return rq, fmt.Errorf("%w: a rejection needs a reason", wire.ErrInvalid)
	case len(rq.Reason) > maxReasonBytes:
		return rq, fmt.Errorf("%w: reason over %d bytes", wire.ErrInvalid, maxReasonBytes)
	case !utf8.ValidString(rq.Reason) || strings.IndexFunc(rq.Reason, unicode.IsControl) >= 0:
		return rq, fmt.Errorf("%w: reason is not plain UTF-8 text", wire.ErrInvalid)
	}
	return rq, nil
}

// Review records a review outcome for a record: it is kept with the
// record, queued on the record's station's review feed (event_id
// "EPOCH.SEQ", with the record's receipt), and sets the student's status
// on central's roster (approved, or rejected with the reason) when they
// are on it. A second review with the same outcome is a no-op (created
// false; the first reason stays); with the other outcome it is
// ErrReviewed. An unknown record is ErrNotFound; a request failing its
// checks wraps wire.ErrInvalid.
func (s *Server) Review(rq wire.ReviewRequest) (created bool, err error) {
	_, created, err = s.review(rq)
	return created, err
}

// review is Review returning the stored outcome too.
func (s *Server) review(rq wire.ReviewRequest) (rv wire.Review, created bool, err error) {
	rq, err = checkReviewRequest(rq)
	if err != nil {
		return wire.Review{}, false, fmt.Errorf("review: %w", err)
	}
	var station string
	err = s.db.Update(func(tx *bolt.Tx) error {
		rec, err := getRecord(tx, rq.RecordID)
		if err != nil {
			return err
		}
		if rec == nil {
			return ErrNotFound
		}
		if rec.Review != nil {
			if rec.Review.Outcome != rq.Outcome {
				return ErrReviewed
			}
			rv, created = *rec.Review, false
			return nil
		}
		var receipt wire.Receipt
		if err := json.Unmarshal(rec.Receipt, &receipt); err != nil {
			return fmt.Errorf("stored receipt: %w", err)
		}
		reviews := tx.Bucket(bucketReviews)
		seq, err := reviews.NextSequence()
		if err != nil {
			return err
		}
		rv = wire.Review{
			EventID:    s.cursor(seq),
			RecordID:   rq.RecordID,
			Outcome:    rq.Outcome,
			Reason:     rq.Reason,
			ReviewedAt: s.now(),
			Receipt:    receipt,
		}
		v, err := json.Marshal(rv)
		if err != nil {
			return err
		}
		if err := reviews.Put(stationKey(rec.Station, seq), v); err != nil {
			return err
		}
		rec.Review = &rv
		if err := putRecord(tx, rq.RecordID, rec); err != nil {
			return err
		}
		station, created = rec.Station, true
		return setRosterStatus(tx, rec.StudentKey, reviewStatus{Status: rq.Outcome, Reason: rq.Reason})
	})
	if err != nil {
		return wire.Review{}, false, fmt.Errorf("review %s: %w", rq.RecordID, err)
	}
	if created {
		s.log.Info("record reviewed", "record", rq.RecordID, "station", station, "outcome", rq.Outcome)
	}
	return rv, created, nil
}

// reviewPage reads station's review outcomes after cursor since: at most
// limit, oldest first.
func (s *Server) reviewPage(station, since string, limit int) (wire.ReviewPage, error) {
	page := wire.ReviewPage{Reviews: []wire.Review{}}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketReviews)
		head := b.Sequence()
		from, err := s.parseCursor(since, head)
		if err != nil {
			return err
		}
		prefix := stationKey(station, 0)
		prefix = prefix[:len(prefix)-8]
		c := b.Cursor()
		k, v := c.Seek(stationKey(station, from+1))
		last := from
		for ; k != nil && len(page.Reviews) < limit; k, v = c.Next() {
			if !hasPrefix(k, prefix) {
				k = nil
				break
			}
			var rv wire.Review
			if err := json.Unmarshal(v, &rv); err != nil {
				return fmt.Errorf("stored review: %w", err)
			}
			page.Reviews = append(page.Reviews, rv)
			last = seqOf(k)
		}
		page.More = k != nil && hasPrefix(k, prefix)
		if !page.More {
			last = head
		}
		page.Next = s.cursor(last)
		return nil
	})
	if err != nil {
		return wire.ReviewPage{}, fmt.Errorf("review feed: %w", err)
	}
	return page, nil
}

func hasPrefix(k, prefix []byte) bool {
	return len(k) == len(prefix)+8 && string(k[:len(prefix)]) == string(prefix)
}

// seqOf is the seq at the end of a stationKey.
func seqOf(k []byte) uint64 { return binary.BigEndian.Uint64(k[len(k)-8:]) }
