package web

import (
	"errors"
	"time"

	"kioskd/kiosk"
	"kioskd/kiosk/queue"
)

// Error codes of retry_record.
const (
	codeNotParked = "not_parked" // the record is not parked: nothing to retry
	codeNotFound  = "not_found"  // no record with that ID
)

func init() {
	for _, e := range []errorData{
		{codeNotParked, "这条记录不在“需处理”状态，无需重试", "This record does not need attention: there is nothing to retry"},
		{codeNotFound, "找不到这条记录", "No such record"},
	} {
		errorTexts[e.Code] = e
	}
}

// maxRecordIDLen is the longest record ID retry_record accepts: a UUID in
// its text form. A longer one is answered bad_input.
const maxRecordIDLen = 36

// retryData is the data of a successful retry_record result.
type retryData struct {
	ID    string      `json:"id"`
	State queue.State `json:"state"`
}

// retryRecord queues the parked record m.Record again and returns the
// result. After a retry it also returns a queue message with the queue as
// it is now, for the console that asked to see the record's new state at
// once (the others see it with their next periodic queue message); snap is
// nil otherwise.
func (s *Server) retryRecord(m clientMessage) (result serverMessage, snap *serverMessage) {
	if m.Record == "" || !fieldOK(m.Record, maxRecordIDLen) {
		e := errorTexts[codeBadInput]
		return resultMessage(clientRetryRecord, nil, &e), nil
	}
	err := s.st.RetryRecord(m.Record)
	if err != nil {
		var code string
		switch {
		case errors.Is(err, kiosk.ErrNotParked):
			code = codeNotParked
		case errors.Is(err, queue.ErrNotFound):
			code = codeNotFound
		}
		if code != "" {
			e := errorTexts[code]
			return resultMessage(clientRetryRecord, nil, &e), nil
		}
		e := errorFor(err) // signed_out, no_session, or internal
		if e.Code == codeInternal {
			// The error names the record and the queue's failure, never
			// a student.
			s.logger.Error("command failed", "command", clientRetryRecord, "err", err)
		}
		return resultMessage(clientRetryRecord, nil, e), nil
	}
	result = resultMessage(clientRetryRecord, retryData{ID: m.Record, State: queue.StateQueued}, nil)
	if st := s.st.Status(); st.Queue != nil {
		snap = &serverMessage{Type: serverQueue, Time: time.Now(), Data: queueData{Queue: st.Queue, Figures: st.Figures}}
	}
	return result, snap
}
