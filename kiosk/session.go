package kiosk

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"kioskd/kiosk/queue"
	"kioskd/kiosk/roster"
)

// EventSession is published on every change of the operator's session;
// Data is a SessionView.
const EventSession = "session"

// Session defaults.
const (
	// DefaultFeeYuan is the on-site fee.
	DefaultFeeYuan = 30
	// DefaultIdleTimeout returns the booth to its start screen when nobody
	// has touched it for this long.
	DefaultIdleTimeout = 3 * time.Minute
)

// SessionState is where the student at the booth stands:
//
//	idle ─identify─► identified ─consent─► consented ─pay─► paid ─frame─► framing
//	                                                                  ▲       │ capture
//	                                                           retake └── reviewing ─accept─► saved
//
// Cancel returns to idle from every state but saved; from saved the next
// student is identified directly. An operator must be signed in.
type SessionState string

// The session states.
const (
	SessionSignedOut  SessionState = "signed_out"
	SessionIdle       SessionState = "idle"
	SessionIdentified SessionState = "identified"
	SessionConsented  SessionState = "consented"
	SessionPaid       SessionState = "paid"
	SessionFraming    SessionState = "framing"
	SessionReviewing  SessionState = "reviewing"
	SessionSaved      SessionState = "saved"
)

// Payment methods.
const (
	PayCash    = "cash"
	PayQR      = "qr"      // a QR payment at the booth
	PayPrepaid = "prepaid" // paid online beforehand
	PayWaived  = "waived"  // a free retake after a rejection, or waived by the operator
)

// Session errors that callers branch on.
var (
	ErrSignedOut      = errors.New("请先登录 / sign in first")
	ErrSessionState   = errors.New("this step is not possible now")
	ErrNotEligible    = errors.New("this student cannot be photographed here")
	ErrSessionNoSetup = errors.New("the station has no roster or record queue configured")
	ErrBadInput       = errors.New("invalid input")
)

// Roster is what the session needs of the student roster
// (*roster.Roster).
type Roster interface {
	IdentifyByID(idNumber, name string) (roster.Match, error)
	IdentifyByCode(code string) (roster.Match, error)
	IDNumber(key string) (string, error)
	SetLocal(key string, l roster.Local) error
}

// Operators checks the operators' PINs (*roster.Operators).
type Operators interface {
	SignIn(id, pin string) (roster.Operator, error)
}

// Records is the durable record queue (*queue.Queue).
type Records interface {
	Commit(r queue.NewRecord, photo, original []byte) (queue.Record, error)
}

// StudentView is the student as the booth's screen shows them: the ID
// number only masked, never the roster key.
type StudentView struct {
	Masked         string        `json:"masked"`
	Name           string        `json:"name,omitempty"`
	StudentNumber  string        `json:"student_number,omitempty"`
	School         string        `json:"school,omitempty"`
	Major          string        `json:"major,omitempty"`
	GraduationYear int           `json:"graduation_year,omitempty"`
	State          roster.Status `json:"state"`
	// Reason is why central rejected the earlier photo (a free retake).
	Reason string `json:"reason,omitempty"`
	// Retake is true for a free retake after a rejection.
	Retake bool `json:"retake"`
	// Allowed says whether this student may be photographed now.
	Allowed bool `json:"allowed"`
}

// SessionView is the operator's session as events and status carry it.
type SessionView struct {
	ID        uint64         `json:"id"`
	State     SessionState   `json:"state"`
	Operator  string         `json:"operator,omitempty"` // the operator's name
	Student   *StudentView   `json:"student,omitempty"`
	Consent   *queue.Consent `json:"consent,omitempty"`
	Fee       *queue.Fee     `json:"fee,omitempty"`
	CaptureID uint64         `json:"capture_id,omitempty"`
	// RecordID is the saved record, once the queue has committed it: the
	// only moment the screen may say "saved".
	RecordID string    `json:"record_id,omitempty"`
	Updated  time.Time `json:"updated"`
}

// session is the live session, guarded by Station.mu.
type session struct {
	view     SessionView
	operator roster.Operator
	key      string // roster key of the student
	retakeOf string // the rejected record a retake points to
	touched  time.Time
}

// sessionLocked returns the session, a signed-out one when there is none;
// call with s.mu held.
func (s *Station) sessionLocked() *session {
	if s.sess == nil {
		s.sess = &session{view: SessionView{State: SessionSignedOut}}
	}
	return s.sess
}

// SessionsConfigured reports whether the station runs operator sessions:
// it has a roster, operators and a record queue.
func (s *Station) SessionsConfigured() bool {
	return s.Roster != nil && s.Operators != nil && s.Records != nil
}

// Session returns the operator's session as the screen shows it.
func (s *Station) Session() SessionView {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessionLocked().view
}

// publishSessionLocked sends the session view. It runs under s.mu, in
// the same critical section as the change, so that two changes racing
// (two consoles, a console and the idle reset) reach every console in
// the order they were made; Publish never blocks.
func (s *Station) publishSessionLocked(v SessionView) {
	s.hub.Publish(Event{Type: EventSession, Time: v.Updated, Data: v})
}

// change runs f on the session under s.mu if the session is in one of
// from, stamps it and publishes it. f may return an error to refuse.
func (s *Station) change(from []SessionState, f func(ss *session) error) (SessionView, error) {
	s.mu.Lock()
	ss := s.sessionLocked()
	ok := false
	for _, st := range from {
		ok = ok || ss.view.State == st
	}
	if !ok {
		state := ss.view.State
		s.mu.Unlock()
		if state == SessionSignedOut {
			return SessionView{}, ErrSignedOut
		}
		return SessionView{}, fmt.Errorf("%w (the session is %s)", ErrSessionState, state)
	}
	if err := f(ss); err != nil {
		s.mu.Unlock()
		return SessionView{}, err
	}
	now := time.Now()
	ss.view.Updated, ss.touched = now, now
	v := ss.view
	s.publishSessionLocked(v)
	s.mu.Unlock()
	return v, nil
}

// SignIn starts an operator's shift at the booth. A wrong PIN and an
// unknown operator give the same error.
func (s *Station) SignIn(id, pin string) (SessionView, error) {
	if s.Operators == nil {
		return SessionView{}, ErrSessionNoSetup
	}
	op, err := s.Operators.SignIn(id, pin)
	if err != nil {
		s.logger.Warn("operator sign-in failed")
		return SessionView{}, err
	}
	v, err := s.change([]SessionState{SessionSignedOut, SessionIdle, SessionSaved}, func(ss *session) error {
		*ss = session{operator: op, view: SessionView{ID: ss.view.ID, State: SessionIdle, Operator: op.Name}}
		return nil
	})
	if err == nil {
		s.logger.Info("operator signed in", "operator", op.ID)
	}
	return v, err
}

// SignOut ends the shift; a student in progress is dropped.
func (s *Station) SignOut() SessionView {
	s.mu.Lock()
	ss := s.sessionLocked()
	*ss = session{view: SessionView{ID: ss.view.ID, State: SessionSignedOut, Updated: time.Now()}}
	v := ss.view
	s.review = nil
	s.publishSessionLocked(v)
	s.mu.Unlock()
	return v
}

// Identify looks the student up by national ID number and name, or by
// collection code (code non-empty). The student is shown whatever their
// state; only an eligible student or one due a free retake moves the
// session on (ErrNotEligible otherwise, with the view saying why).
func (s *Station) Identify(idNumber, name, code string) (SessionView, error) {
	if s.Roster == nil {
		return SessionView{}, ErrSessionNoSetup
	}
	if err := checkText(name, 64); err != nil {
		return SessionView{}, err
	}
	if s.Session().State == SessionSignedOut {
		return SessionView{}, ErrSignedOut
	}
	var m roster.Match
	var err error
	if strings.TrimSpace(code) != "" {
		m, err = s.Roster.IdentifyByCode(code)
	} else {
		m, err = s.Roster.IdentifyByID(idNumber, name)
	}
	if err != nil {
		return SessionView{}, err
	}
	st := &StudentView{
		Masked: m.Masked, Name: m.Name, StudentNumber: m.StudentNumber, School: m.School,
		Major: m.Major, GraduationYear: m.GraduationYear, State: m.State, Reason: m.Reason,
		Retake:  m.State == roster.StatusRejected,
		Allowed: m.State == roster.StatusEligible || m.State == roster.StatusRejected,
	}
	from := []SessionState{SessionIdle, SessionIdentified, SessionSaved}
	v, err := s.change(from, func(ss *session) error {
		ss.view = SessionView{ID: ss.view.ID, State: SessionIdle, Operator: ss.operator.Name, Student: st}
		ss.key, ss.retakeOf = "", ""
		if st.Allowed {
			ss.view.ID++
			ss.view.State = SessionIdentified
			s.figs.identify(time.Now())
			ss.key = m.Key
			if st.Retake {
				ss.retakeOf = m.RecordID
			}
		}
		return nil
	})
	if err == nil && !st.Allowed {
		zh, en := st.State.Label()
		return v, fmt.Errorf("%w: %s / %s", ErrNotEligible, zh, en)
	}
	return v, err
}

// Consent records that the student agreed to the privacy terms of version.
func (s *Station) Consent(version string) (SessionView, error) {
	if err := checkText(version, 32); err != nil || strings.TrimSpace(version) == "" {
		return SessionView{}, fmt.Errorf("%w: consent version", ErrBadInput)
	}
	return s.change([]SessionState{SessionIdentified}, func(ss *session) error {
		ss.view.Consent = &queue.Consent{Version: version, At: time.Now()}
		ss.view.State = SessionConsented
		return nil
	})
}

// Pay records the fee. A free retake after a rejection is waived whatever
// method is given.
func (s *Station) Pay(method, receipt string) (SessionView, error) {
	switch method {
	case PayCash, PayQR, PayPrepaid, PayWaived:
	default:
		return SessionView{}, fmt.Errorf("%w: payment method %q", ErrBadInput, method)
	}
	if err := checkText(receipt, 64); err != nil {
		return SessionView{}, err
	}
	fee := s.FeeYuan
	if fee == 0 {
		fee = DefaultFeeYuan
	}
	return s.change([]SessionState{SessionConsented}, func(ss *session) error {
		f := queue.Fee{Yuan: fee, Method: method, Receipt: strings.TrimSpace(receipt)}
		if method == PayWaived || ss.view.Student.Retake {
			f = queue.Fee{Method: PayWaived, Receipt: f.Receipt}
		}
		ss.view.Fee = &f
		ss.view.State = SessionPaid
		return nil
	})
}

// Frame starts the framing: the live checks guide the student and the
// operator captures.
func (s *Station) Frame() (SessionView, error) {
	v, err := s.change([]SessionState{SessionPaid}, func(ss *session) error {
		ss.view.State = SessionFraming
		return nil
	})
	if err == nil {
		s.restartFraming.Store(true)
	}
	return v, err
}

// Cancel drops the student in progress and returns to idle.
func (s *Station) Cancel() (SessionView, error) {
	from := []SessionState{SessionIdle, SessionIdentified, SessionConsented, SessionPaid, SessionFraming, SessionReviewing, SessionSaved}
	return s.change(from, func(ss *session) error {
		ss.view = SessionView{ID: ss.view.ID, State: SessionIdle, Operator: ss.operator.Name}
		ss.key, ss.retakeOf = "", ""
		s.review = nil
		return nil
	})
}

// capturedLocked moves a framing session to reviewing capture id and
// reports whether it did; called by Capture under s.mu.
func (s *Station) capturedLocked(id uint64) bool {
	ss := s.sess
	if ss == nil || ss.view.State != SessionFraming {
		return false
	}
	ss.view.State, ss.view.CaptureID = SessionReviewing, id
	ss.view.Updated, ss.touched = time.Now(), time.Now()
	return true
}

// retookLocked moves a reviewing session back to framing; under s.mu.
func (s *Station) retookLocked() {
	if ss := s.sess; ss != nil && ss.view.State == SessionReviewing {
		ss.view.State, ss.view.CaptureID = SessionFraming, 0
		ss.view.Updated, ss.touched = time.Now(), time.Now()
	}
}

// save commits the accepted capture c of a reviewing session to the record
// queue, then marks the student captured in the roster. The session turns
// saved only after the queue's commit.
func (s *Station) save(c *captured) (SessionView, error) {
	s.mu.Lock()
	ss := s.sessionLocked()
	if ss.view.State != SessionReviewing || ss.view.CaptureID != c.ID {
		s.mu.Unlock()
		return SessionView{}, nil // no session around this capture
	}
	snap := *ss
	s.mu.Unlock()
	if s.Records == nil || s.Roster == nil {
		return SessionView{}, ErrSessionNoSetup
	}
	idNumber, err := s.Roster.IDNumber(snap.key)
	if err != nil {
		return SessionView{}, fmt.Errorf("save: %w", err)
	}
	report, err := json.Marshal(c.Report)
	if err != nil {
		return SessionView{}, err
	}
	spec, bg := s.spec()
	rec, err := s.Records.Commit(queue.NewRecord{
		StationID: s.StationID, Operator: snap.operator.ID,
		IDNumber: idNumber, Name: snap.view.Student.Name,
		Spec: spec.ID, Background: string(bg),
		Fee: *snap.view.Fee, Consent: *snap.view.Consent,
		Report: report, RetakeOf: snap.retakeOf,
	}, c.photo, c.frame.JPEG)
	if err != nil {
		return SessionView{}, fmt.Errorf("save: %w", err)
	}
	if err := s.Roster.SetLocal(snap.key, roster.Local{State: roster.StatusCapturedHere, RecordID: rec.ID, At: rec.CreatedAt}); err != nil {
		// The record is safe in the queue; the roster learns it again from
		// central's review. Say so, but do not fail the save.
		s.logger.Warn("roster not updated after save", "record", rec.ID, "err", err)
	}
	s.logger.Info("record saved", "record", rec.ID, "operator", snap.operator.ID, "retake", snap.retakeOf != "")
	return s.change([]SessionState{SessionReviewing}, func(ss *session) error {
		ss.view.State, ss.view.RecordID = SessionSaved, rec.ID
		s.figs.saved(time.Now())
		return nil
	})
}

// idleCheck returns the booth to idle when a student's session has not
// been touched for the idle timeout; the stats loop calls it.
func (s *Station) idleCheck(now time.Time) {
	timeout := s.IdleTimeout
	if timeout == 0 {
		timeout = DefaultIdleTimeout
	}
	if timeout < 0 {
		return
	}
	s.mu.Lock()
	ss := s.sess
	idle := ss != nil && ss.view.State != SessionSignedOut && ss.view.State != SessionIdle && now.Sub(ss.touched) >= timeout
	s.mu.Unlock()
	if idle {
		s.logger.Info("session idle: back to the start screen")
		s.Cancel()
	}
}

// checkText refuses text a form field should never carry.
func checkText(v string, max int) error {
	if !utf8.ValidString(v) || utf8.RuneCountInString(v) > max {
		return fmt.Errorf("%w: text too long or not UTF-8", ErrBadInput)
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: control characters", ErrBadInput)
		}
	}
	return nil
}
