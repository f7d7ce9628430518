package web

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"kioskd/kiosk"
	"kioskd/kiosk/queue"
	"kioskd/kiosk/roster"
)

// Error codes of the operator's session commands (and of accept, whose
// save may fail).
const (
	codeSignedOut     = "signed_out"     // no operator is signed in
	codeSessionState  = "session_state"  // the step is not possible in this state
	codeNotEligible   = "not_eligible"   // the student may not be photographed here (the session event says why)
	codeBadInput      = "bad_input"      // a field is empty, too long or holds control characters
	codeNoSession     = "no_session"     // the station has no roster or record queue
	codeSignIn        = "sign_in"        // wrong operator ID or PIN
	codeTooMany       = "too_many"       // too many failed sign-ins: wait
	codeNameMismatch  = "name_mismatch"  // the name does not match the ID number
	codeBadIDNumber   = "bad_id_number"  // the ID number is malformed
	codeOutsideWindow = "outside_window" // outside the collection period
	codeBadCode       = "bad_code"       // the collection code is malformed or unknown
	codeNotOnRoster   = "not_on_roster"  // the student is not on the roster
	codeDiskFull      = "disk_full"      // the record could not be saved: the disk is full
)

func init() {
	for _, e := range []errorData{
		{codeSignedOut, "请先登录", "Sign in first"},
		{codeSessionState, "现在不能进行这一步，请按屏幕上的步骤操作", "This step is not possible now: follow the steps on the screen"},
		{codeNotEligible, "该学生不能在本站采集，原因见学生信息", "This student cannot be photographed here: see the student card"},
		{codeBadInput, "输入无效：请检查是否为空、过长或含有特殊字符", "Invalid input: check that it is not empty, too long or holding special characters"},
		{codeNoSession, "本站未配置学生名单或记录存储", "This station has no student roster or record storage configured"},
		{codeSignIn, "工号或 PIN 不正确", "Wrong operator ID or PIN"},
		{codeTooMany, "登录失败次数过多，请一分钟后再试", "Too many failed sign-ins: try again in a minute"},
		{codeNameMismatch, "姓名与身份证号不符，请核对", "The name does not match the ID number: check both"},
		{codeBadIDNumber, "身份证号无效，请核对", "Invalid ID number: check it"},
		{codeOutsideWindow, "不在采集时间内，逾期不再受理", "Outside the collection period: late requests are not accepted"},
		{codeBadCode, "采集码无效，请重新扫描或改用身份证号", "Invalid collection code: scan again or use the ID number"},
		{codeNotOnRoster, "学生不在名单中", "The student is not on the roster"},
		{codeDiskFull, "存储空间已满，照片未保存：请联系管理员", "The disk is full and the photo was not saved: call the administrator"},
	} {
		errorTexts[e.Code] = e
	}
}

// sessionErrorFor maps the errors of the session steps and of a save; ok
// is false for an error it does not know.
func sessionErrorFor(err error) (*errorData, bool) {
	var code string
	switch {
	case errors.Is(err, kiosk.ErrSignedOut):
		code = codeSignedOut
	case errors.Is(err, kiosk.ErrSessionState):
		code = codeSessionState
	case errors.Is(err, kiosk.ErrNotEligible):
		code = codeNotEligible
	case errors.Is(err, kiosk.ErrBadInput):
		code = codeBadInput
	case errors.Is(err, kiosk.ErrSessionNoSetup):
		code = codeNoSession
	case errors.Is(err, roster.ErrSignIn), errors.Is(err, roster.ErrBadPIN):
		// A malformed PIN is a wrong PIN: the answer says no more.
		code = codeSignIn
	case errors.Is(err, roster.ErrNameMismatch):
		code = codeNameMismatch
	case errors.Is(err, roster.ErrBadIDNumber):
		code = codeBadIDNumber
		// The roster's IDError says exactly what is wrong, in both
		// languages, and never holds the number.
		var ie *roster.IDError
		if errors.As(err, &ie) {
			if e, ok := bilingual(codeBadIDNumber, ie.Error()); ok {
				return e, true
			}
		}
	case errors.Is(err, roster.ErrOutsideWindow):
		code = codeOutsideWindow
		// The window's dates tell the student when; no personal data.
		var we *roster.WindowError
		if errors.As(err, &we) {
			if e, ok := bilingual(codeOutsideWindow, we.Error()); ok {
				return e, true
			}
		}
	case errors.Is(err, roster.ErrBadCode):
		code = codeBadCode
	case errors.Is(err, roster.ErrNotFound):
		code = codeNotOnRoster
	case errors.Is(err, queue.ErrDiskFull):
		code = codeDiskFull
	default:
		return nil, false
	}
	e := errorTexts[code]
	return &e, true
}

// bilingual splits a roster message "中文 / English" into an errorData.
func bilingual(code, msg string) (*errorData, bool) {
	zh, en, ok := strings.Cut(msg, " / ")
	if !ok || zh == "" || en == "" {
		return nil, false
	}
	return &errorData{Code: code, Zh: zh, En: en}, true
}

// Longest accepted session fields, in characters. A longer one is
// answered bad_input.
const (
	maxOperatorLen = 32
	maxPINLen      = 16
	maxIDNumberLen = 32
	maxNameLen     = 64
	maxCodeLen     = 32
	maxVersionLen  = 32
	maxMethodLen   = 16
	maxReceiptLen  = 64
)

// fieldOK reports whether a form field may go to the station: at most max
// characters, no control characters (C0, DEL, C1). The parser has checked
// UTF-8.
func fieldOK(v string, max int) bool {
	n := 0
	for _, r := range v {
		n++
		if n > max || r < 0x20 || (r >= 0x7f && r <= 0x9f) {
			return false
		}
	}
	return true
}

// Sign-in throttling defaults.
const (
	// DefaultSignInLimit is how many failed sign-ins a connection may
	// make within DefaultSignInWindow; the station as a whole may make
	// twice as many. Beyond it, sign_in answers too_many for the window.
	DefaultSignInLimit = 5
	// DefaultSignInWindow is the period failures are counted over, and
	// how long a lockout lasts.
	DefaultSignInWindow = time.Minute
)

// throttle counts failed sign-ins and locks out after limit of them
// within window. The zero value is ready; it is safe for concurrent use.
type throttle struct {
	mu    sync.Mutex
	fails []time.Time
	until time.Time
}

// locked reports whether sign-ins are refused at now.
func (t *throttle) locked(now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return now.Before(t.until)
}

// fail counts a failure at now.
func (t *throttle) fail(now time.Time, limit int, window time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	kept := t.fails[:0]
	for _, f := range t.fails {
		if now.Sub(f) < window {
			kept = append(kept, f)
		}
	}
	t.fails = append(kept, now)
	if len(t.fails) >= limit {
		t.until = now.Add(window)
		t.fails = t.fails[:0]
	}
}

// clear forgets the failures (after a successful sign-in).
func (t *throttle) clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.fails = t.fails[:0]
}

func (s *Server) signInLimit() int {
	if s.SignInLimit > 0 {
		return s.SignInLimit
	}
	return DefaultSignInLimit
}

func (s *Server) signInWindow() time.Duration {
	if s.SignInWindow > 0 {
		return s.SignInWindow
	}
	return DefaultSignInWindow
}

// sessionsConfigured reports whether the station runs operator sessions.
func (s *Server) sessionsConfigured() bool { return s.st.SessionsConfigured() }

// sessionStep runs one session command of client c and returns its
// result; on success the data is the new SessionView (every console also
// gets it as a "session" event).
func (s *Server) sessionStep(c *client, m clientMessage) serverMessage {
	bad := func() serverMessage {
		e := errorTexts[codeBadInput]
		return resultMessage(m.Type, nil, &e)
	}
	var v kiosk.SessionView
	var err error
	switch m.Type {
	case clientSignIn:
		return s.signIn(c, m)
	case clientSignOut:
		v = s.st.SignOut()
	case clientIdentify:
		if !fieldOK(m.IDNumber, maxIDNumberLen) || !fieldOK(m.Name, maxNameLen) || !fieldOK(m.Code, maxCodeLen) {
			return bad()
		}
		v, err = s.st.Identify(m.IDNumber, m.Name, m.Code)
	case clientConsent:
		if !fieldOK(m.Version, maxVersionLen) {
			return bad()
		}
		v, err = s.st.Consent(m.Version)
	case clientPay:
		if !fieldOK(m.Method, maxMethodLen) || !fieldOK(m.Receipt, maxReceiptLen) {
			return bad()
		}
		v, err = s.st.Pay(m.Method, m.Receipt)
	case clientFrame:
		v, err = s.st.Frame()
	case clientCancel:
		v, err = s.st.Cancel()
	}
	return s.stepResult(m.Type, v, err)
}

// signIn checks the throttles, then the operator's PIN.
func (s *Server) signIn(c *client, m clientMessage) serverMessage {
	now := time.Now()
	limit, window := s.signInLimit(), s.signInWindow()
	if c.signIns.locked(now) || s.signIns.locked(now) {
		e := errorTexts[codeTooMany]
		return resultMessage(clientSignIn, nil, &e)
	}
	if !fieldOK(m.Operator, maxOperatorLen) || !fieldOK(m.PIN, maxPINLen) {
		c.signIns.fail(now, limit, window)
		s.signIns.fail(now, 2*limit, window)
		e := errorTexts[codeBadInput]
		return resultMessage(clientSignIn, nil, &e)
	}
	v, err := s.st.SignIn(m.Operator, m.PIN)
	if errors.Is(err, roster.ErrSignIn) || errors.Is(err, roster.ErrBadPIN) {
		c.signIns.fail(now, limit, window)
		s.signIns.fail(now, 2*limit, window)
		s.logger.Warn("sign-in refused")
	} else if err == nil {
		c.signIns.clear()
	}
	return s.stepResult(clientSignIn, v, err)
}

// stepResult is the result of session command typ.
func (s *Server) stepResult(typ string, v kiosk.SessionView, err error) serverMessage {
	if err == nil {
		return resultMessage(typ, v, nil)
	}
	e, ok := sessionErrorFor(err)
	if !ok {
		// Only the error's class is logged: a roster error could carry
		// what the operator typed.
		s.logger.Error("session command failed", "command", typ, "err_type", fmt.Sprintf("%T", err))
		e = errorFor(err)
	}
	return resultMessage(typ, nil, e)
}
