package queue

import (
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// errUnchanged tells change that a repeated call found the record already
// where it should be: nothing is written and the call succeeds.
var errUnchanged = errors.New("unchanged")

// change moves record id from one of the states from to state to in one
// transaction, after mutate has updated it (or found it already done). The
// from lists of the methods below are the lifecycle of the package doc.
func (q *Queue) change(id string, from []State, to State, mutate func(r *Record) error) error {
	u, err := ParseUUID(id)
	if err != nil {
		return fmt.Errorf("record %q: %w", id, ErrNotFound)
	}
	err = q.db.Update(func(tx *bolt.Tx) error {
		r, err := getRecord(tx, u)
		if err != nil {
			return err
		}
		if err := mutate(&r); err != nil {
			return err
		}
		if !slices.Contains(from, r.State) {
			return &TransitionError{ID: r.ID, From: r.State, To: to}
		}
		return putRecord(tx, &r, to, q.now())
	})
	if errors.Is(err, errUnchanged) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mark %s: %w", to, err)
	}
	return nil
}

// MarkUploading starts an upload attempt: queued → uploading, Attempts+1.
func (q *Queue) MarkUploading(id string) error {
	return q.change(id, []State{StateQueued}, StateUploading, func(r *Record) error {
		r.Attempts++
		return nil
	})
}

// MarkFailed ends an upload attempt that failed for a reason worth retrying
// (network, 5xx, 429): uploading → queued, with LastError kept for the
// operator's screen. lastError must not hold personal data.
func (q *Queue) MarkFailed(id, lastError string) error {
	return q.change(id, []State{StateUploading}, StateQueued, func(r *Record) error {
		r.LastError = lastError
		return nil
	})
}

// MarkAccepted records central's receipt: uploading → accepted. Repeating
// it with the same receipt is a no-op, whatever review followed.
func (q *Queue) MarkAccepted(id, receipt string) error {
	if receipt == "" {
		return fmt.Errorf("mark accepted %s: empty receipt", id)
	}
	return q.change(id, []State{StateUploading}, StateAccepted, func(r *Record) error {
		if r.Receipt == receipt && (r.State == StateAccepted || r.State == StateApproved || r.State == StateRejected) {
			return errUnchanged
		}
		r.Receipt = receipt
		r.AcceptedAt = q.now()
		r.LastError = ""
		return nil
	})
}

// MarkApproved records central's approval: accepted → approved. Repeating
// it is a no-op.
func (q *Queue) MarkApproved(id string) error {
	return q.change(id, []State{StateAccepted}, StateApproved, func(r *Record) error {
		if r.State == StateApproved {
			return errUnchanged
		}
		r.ReviewedAt = q.now()
		return nil
	})
}

// MarkRejected records central's rejection and its reason: accepted →
// rejected (a retake is due). Repeating it with the same reason is a no-op.
func (q *Queue) MarkRejected(id, reason string) error {
	if reason == "" {
		return fmt.Errorf("mark rejected %s: empty reason", id)
	}
	return q.change(id, []State{StateAccepted}, StateRejected, func(r *Record) error {
		if r.State == StateRejected && r.Reason == reason {
			return errUnchanged
		}
		r.Reason = reason
		r.ReviewedAt = q.now()
		return nil
	})
}

// Park sets a record aside after a permanent error (a 4xx from central, a
// damaged blob): queued or uploading → parked, with the reason shown to the
// operator. The record is kept; Unpark queues it again.
func (q *Queue) Park(id, reason string) error {
	if reason == "" {
		return fmt.Errorf("park %s: empty reason", id)
	}
	return q.change(id, []State{StateQueued, StateUploading}, StateParked, func(r *Record) error {
		if r.State == StateParked && r.Reason == reason {
			return errUnchanged
		}
		r.Reason = reason
		r.LastError = reason
		return nil
	})
}

// Unpark queues a parked record again once the operator fixed the cause:
// parked → queued.
func (q *Queue) Unpark(id string) error {
	return q.change(id, []State{StateParked}, StateQueued, func(r *Record) error {
		if r.State == StateParked {
			r.Reason = ""
		}
		return nil
	})
}
