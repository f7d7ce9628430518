package roster

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Status is a student's state as the booth shows it (see the package doc
// for how the roster's status and the station's own knowledge combine).
type Status string

// The states Identify reports.
const (
	StatusEligible        Status = "eligible"         // may be photographed here
	StatusCollectedOnline Status = "collected_online" // already collected online: no photo here
	StatusCapturedHere    Status = "captured_here"    // captured at this station, pending review
	StatusApproved        Status = "approved"         // the photo was approved: nothing to do
	StatusRejected        Status = "rejected"         // the photo was rejected: a free retake is due (Reason)
	StatusNotOnRoster     Status = "not_on_roster"    // not on the roster, or removed from it
)

// Label returns the state's words for the booth screen, zh-CN then English.
func (s Status) Label() (zh, en string) {
	switch s {
	case StatusEligible:
		return "可以采集", "eligible"
	case StatusCollectedOnline:
		return "已在线上完成采集，无需现场拍照", "already collected online"
	case StatusCapturedHere:
		return "已在本站拍摄，等待审核", "already captured here, pending review"
	case StatusApproved:
		return "照片已审核通过", "photo approved"
	case StatusRejected:
		return "照片未通过审核，可免费重拍", "photo rejected: free retake"
	case StatusNotOnRoster:
		return "不在名单中", "not on the roster"
	}
	return string(s), string(s)
}

// statusWords maps the words accepted in the CSV status column (compared
// after trimming and lower-casing) to a Status. An empty cell is eligible.
var statusWords = map[string]Status{
	"":                 StatusEligible,
	"待采集":              StatusEligible,
	"未采集":              StatusEligible,
	"可采集":              StatusEligible,
	"eligible":         StatusEligible,
	"pending":          StatusEligible,
	"已采集":              StatusCollectedOnline,
	"线上已采集":            StatusCollectedOnline,
	"网上已采集":            StatusCollectedOnline,
	"collected":        StatusCollectedOnline,
	"collected_online": StatusCollectedOnline,
	"审核通过":             StatusApproved,
	"已通过":              StatusApproved,
	"approved":         StatusApproved,
	"审核未通过":            StatusRejected,
	"未通过":              StatusRejected,
	"不合格":              StatusRejected,
	"已驳回":              StatusRejected,
	"rejected":         StatusRejected,
}

// errStatusWord is the message for a status word not in statusWords.
var errStatusWord = errors.New("状态应为 待采集/未采集/可采集、已采集/线上已采集/网上已采集、审核通过/已通过、审核未通过/未通过/不合格/已驳回 之一（或留空） / " +
	"status must be one of eligible, pending, collected, collected_online, approved, rejected (or empty)")

// ParseStatus maps a word of the CSV status column to a Status; see the
// package doc for the accepted words.
func ParseStatus(word string) (Status, error) {
	s, ok := statusWords[strings.ToLower(strings.TrimSpace(word))]
	if !ok {
		return "", errStatusWord
	}
	return s, nil
}

// ErrOutsideWindow is matched by every *WindowError.
var ErrOutsideWindow = errors.New("不在采集时间内 / outside the collection window")

// Window is the collection period from configuration. A zero Start or End
// leaves that side open.
type Window struct {
	Start, End time.Time
}

// Validate reports an End that is not after Start.
func (w Window) Validate() error {
	if !w.Start.IsZero() && !w.End.IsZero() && !w.End.After(w.Start) {
		return fmt.Errorf("collection window: end %s is not after start %s", w.End.Format(time.RFC3339), w.Start.Format(time.RFC3339))
	}
	return nil
}

// Check returns a *WindowError when now is before Start or not before End.
func (w Window) Check(now time.Time) error {
	if !w.Start.IsZero() && now.Before(w.Start) {
		return &WindowError{Window: w, Early: true}
	}
	if !w.End.IsZero() && !now.Before(w.End) {
		return &WindowError{Window: w}
	}
	return nil
}

// WindowError refuses an identification outside the collection window.
type WindowError struct {
	Window Window
	Early  bool // before Start; otherwise at or after End
}

// Error gives the window's start or end and says the booth refuses.
func (e *WindowError) Error() string {
	const layout = "2006-01-02 15:04"
	if e.Early {
		return fmt.Sprintf("采集尚未开始，开始时间 %s / collection has not started yet; it starts %s",
			e.Window.Start.Format(layout), e.Window.Start.Format(layout))
	}
	return fmt.Sprintf("采集已于 %s 截止，逾期不再受理 / collection closed at %s; late requests are not accepted",
		e.Window.End.Format(layout), e.Window.End.Format(layout))
}

// Is makes errors.Is(err, ErrOutsideWindow) hold.
func (e *WindowError) Is(target error) bool { return target == ErrOutsideWindow }
