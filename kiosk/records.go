package kiosk

import (
	"errors"
	"fmt"

	"kioskd/kiosk/queue"
)

// ErrNotParked is RetryRecord's error for a record that is not parked: it
// is waiting, uploading or done, so there is nothing to retry.
var ErrNotParked = errors.New("the record is not parked")

// Unparker is what RetryRecord needs of the record queue (*queue.Queue):
// Unpark moves a parked record back to queued, and fails with an error
// wrapping queue.ErrIllegalTransition for a record in any other state and
// queue.ErrNotFound for an unknown ID.
type Unparker interface {
	Unpark(id string) error
}

// RetryRecord queues the parked record id again, once the operator has
// dealt with the reason central refused it. Only a signed-in operator may
// (ErrSignedOut). The error wraps ErrNotParked for a record that is not
// parked, queue.ErrNotFound for an unknown or malformed ID, and
// ErrSessionNoSetup on a station without a record queue. The uplink picks
// the record up on its next pass: Unpark does not wake it.
func (s *Station) RetryRecord(id string) error {
	if s.Records == nil {
		return ErrSessionNoSetup
	}
	s.mu.Lock()
	ss := s.sessionLocked()
	signedIn, operator := ss.view.State != SessionSignedOut, ss.operator.ID
	s.mu.Unlock()
	if !signedIn {
		return ErrSignedOut
	}
	u, ok := s.Records.(Unparker)
	if !ok {
		return fmt.Errorf("retry record: the record queue (%T) cannot unpark records", s.Records)
	}
	if err := u.Unpark(id); err != nil {
		if errors.Is(err, queue.ErrIllegalTransition) {
			return fmt.Errorf("retry record %s: %w: %w", id, ErrNotParked, err)
		}
		return fmt.Errorf("retry record %s: %w", id, err)
	}
	s.logger.Info("parked record queued again", "record", id, "operator", operator)
	return nil
}
