package kiosk_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"kioskd/kiosk"
	"kioskd/kiosk/queue"
	"kioskd/kiosk/roster"
)

// The roster of these tests: fake ID numbers whose check digits are right.
const (
	eligibleID = "330106200403150019" // 张三, eligible, code QR8K2M7Q1
	onlineID   = "330106200407210023" // 李四, collected online
	rejectedID = "110108200311090030" // 王五, rejected: a free retake
	testPIN    = "246810"
)

const testRoster = `身份证号,姓名,学号,学校,专业,毕业年份,状态,采集码,驳回原因
330106200403150019,张三,2022010001,浙江示例大学,计算机科学与技术,2026,待采集,QR8K2M7Q1,
330106200407210023,李四,2022010002,浙江示例大学,数学与应用数学,2026,已采集,,
110108200311090030,王五,2022010003,浙江示例大学,英语,2026,审核未通过,QR8K2M7Q3,背景不是浅蓝色
`

// booth is a station with a real roster, operators file and record queue
// in a temporary state folder, playing one demo frame.
type booth struct {
	st  *kiosk.Station
	src *loopSource
	q   *queue.Queue
	r   *roster.Roster
	dir string
}

// newBooth starts the booth; configure (if given) adjusts the station
// before it runs.
func newBooth(t *testing.T, configure ...func(*kiosk.Station)) *booth {
	t.Helper()
	dir := t.TempDir()
	q, err := queue.Open(dir, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	r, err := roster.Open(dir, roster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	if _, err := r.ImportCSV(strings.NewReader(testRoster), roster.Replace); err != nil {
		t.Fatal(err)
	}
	hash, err := roster.HashPIN(testPIN, 1000)
	if err != nil {
		t.Fatal(err)
	}
	ops, err := roster.ParseOperators(strings.NewReader("op01 " + hash + " 王老师\n"))
	if err != nil {
		t.Fatal(err)
	}
	src := &loopSource{f: demoFrame(t, 10*time.Second)}
	st := kiosk.NewStation(src, discard())
	st.AnalysisRate = -1
	st.Roster, st.Operators, st.Records, st.StationID = r, ops, q, "booth-7"
	for _, f := range configure {
		f(st)
	}
	runStation(t, st)
	waitFrames(t, st)
	return &booth{st: st, src: src, q: q, r: r, dir: dir}
}

func must(t *testing.T, f func() (kiosk.SessionView, error)) kiosk.SessionView {
	t.Helper()
	v, err := f()
	if err != nil {
		t.Fatalf("%v", err)
	}
	return v
}

func TestSessionWholeFlow(t *testing.T) {
	b := newBooth(t)
	st := b.st
	if _, err := st.Identify(eligibleID, "张三", ""); !errors.Is(err, kiosk.ErrSignedOut) {
		t.Fatalf("Identify before sign-in = %v; want ErrSignedOut", err)
	}
	if _, err := st.SignIn("op01", "000000"); !errors.Is(err, roster.ErrSignIn) {
		t.Fatalf("SignIn with a wrong PIN = %v; want ErrSignIn", err)
	}
	v := must(t, func() (kiosk.SessionView, error) { return st.SignIn("op01", testPIN) })
	if v.State != kiosk.SessionIdle || v.Operator != "王老师" {
		t.Fatalf("after sign-in: %+v", v)
	}
	v = must(t, func() (kiosk.SessionView, error) { return st.Identify(strings.ToLower(eligibleID), "张三", "") })
	if v.State != kiosk.SessionIdentified || v.Student == nil || v.Student.Masked != "3301**********0019" || !v.Student.Allowed {
		t.Fatalf("identified: %+v %+v", v, v.Student)
	}
	if _, err := st.Pay(kiosk.PayCash, "R1"); !errors.Is(err, kiosk.ErrSessionState) {
		t.Errorf("Pay before consent = %v; want ErrSessionState", err)
	}
	must(t, func() (kiosk.SessionView, error) { return st.Consent("privacy-2026-1") })
	v = must(t, func() (kiosk.SessionView, error) { return st.Pay(kiosk.PayCash, "R-0001") })
	if v.Fee == nil || v.Fee.Yuan != kiosk.DefaultFeeYuan || v.Fee.Method != kiosk.PayCash {
		t.Errorf("fee %+v; want 30 yuan cash", v.Fee)
	}
	must(t, func() (kiosk.SessionView, error) { return st.Frame() })

	c, err := st.Capture(t.Context(), false)
	if err != nil || c.State != kiosk.CaptureReview {
		t.Fatalf("Capture = %+v, %v", c, err)
	}
	if v := st.Session(); v.State != kiosk.SessionReviewing || v.CaptureID != c.ID {
		t.Fatalf("after capture the session is %+v; want reviewing capture %d", v, c.ID)
	}
	// A retake goes back to framing; the next capture is accepted.
	if _, err := st.Retake(c.ID); err != nil {
		t.Fatal(err)
	}
	if v := st.Session(); v.State != kiosk.SessionFraming {
		t.Fatalf("after retake the session is %s; want framing", v.State)
	}
	c, err = st.Capture(t.Context(), false)
	if err != nil || c.State != kiosk.CaptureReview {
		t.Fatalf("second Capture = %+v, %v", c, err)
	}
	if _, err := st.Accept(c.ID); err != nil {
		t.Fatalf("Accept = %v", err)
	}
	v = st.Session()
	if v.State != kiosk.SessionSaved || v.RecordID == "" {
		t.Fatalf("after accept the session is %+v; want saved with a record ID", v)
	}

	// The record is in the queue, whole, with the student sealed.
	rec, err := b.q.Get(v.RecordID)
	if err != nil {
		t.Fatalf("queue Get(%s) = %v", v.RecordID, err)
	}
	if rec.State != queue.StateQueued || rec.StationID != "booth-7" || rec.Operator != "op01" || rec.Fee.Yuan != 30 || rec.Consent.Version != "privacy-2026-1" {
		t.Errorf("record %+v", rec)
	}
	photo, err := b.q.Blob(rec.Photo)
	if err != nil || !bytes.HasPrefix(photo, []byte{0xFF, 0xD8}) || len(photo) > 40000 {
		t.Errorf("photo blob: %d bytes, %v; want the standardized JPEG", len(photo), err)
	}
	id, err := b.q.Identity(rec)
	if err != nil || id.IDNumber != eligibleID || id.Name != "张三" {
		t.Errorf("Identity = %+v, %v", id, err)
	}
	// The roster knows the student was captured here.
	m, err := b.r.IdentifyByID(eligibleID, "张三")
	if err != nil || m.State != roster.StatusCapturedHere || m.RecordID != rec.ID {
		t.Errorf("roster after save: %+v, %v; want captured_here with the record", m, err)
	}
	// The state folder holds the ID number and the name only encrypted.
	filepath.WalkDir(b.dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, _ := os.ReadFile(p)
		for _, plain := range []string{eligibleID, "张三"} {
			if bytes.Contains(data, []byte(plain)) {
				t.Errorf("%s holds %q in plain text", filepath.Base(p), plain)
			}
		}
		// No photo of a student in the clear (the calibration's clean
		// plate, a picture of the empty booth, is the only JPEG allowed).
		if bytes.HasPrefix(data, []byte{0xFF, 0xD8, 0xFF}) && filepath.Base(p) != "clean-plate.jpg" {
			t.Errorf("%s is a plain JPEG", filepath.Base(p))
		}
		return nil
	})

	// Today's figures and the queue panel.
	f := st.Figures()
	if f.Saved != 1 || f.Captures != 2 || f.Retakes != 1 || f.MedianSeconds <= 0 || f.PerHour <= 0 {
		t.Errorf("Figures() = %+v; want 1 saved, 2 captures, 1 retake, a median time and a rate", f)
	}
	if q := st.Status().Queue; q == nil || q.Counts[queue.StateQueued] != 1 || q.OldestQueued.IsZero() {
		t.Errorf("Status().Queue = %+v; want one queued record and its time", q)
	}

	// The same student again: already captured here, not allowed.
	v, err = st.Identify(eligibleID, "张三", "")
	if !errors.Is(err, kiosk.ErrNotEligible) || v.Student == nil || v.Student.State != roster.StatusCapturedHere || v.State != kiosk.SessionIdle {
		t.Errorf("Identify of a student captured here = %+v, %v; want idle, not eligible", v, err)
	}
}

func TestSessionRetakeIsFree(t *testing.T) {
	b := newBooth(t)
	must(t, func() (kiosk.SessionView, error) { return b.st.SignIn("op01", testPIN) })
	v := must(t, func() (kiosk.SessionView, error) { return b.st.Identify("", "", " QR8K2M7Q3 ") })
	if !v.Student.Retake || v.Student.Reason == "" {
		t.Fatalf("rejected student: %+v; want a free retake with the reason", v.Student)
	}
	must(t, func() (kiosk.SessionView, error) { return b.st.Consent("v1") })
	v = must(t, func() (kiosk.SessionView, error) { return b.st.Pay(kiosk.PayCash, "") })
	if v.Fee.Yuan != 0 || v.Fee.Method != kiosk.PayWaived {
		t.Errorf("retake fee %+v; want waived", v.Fee)
	}
}

func TestSessionRefusals(t *testing.T) {
	b := newBooth(t)
	st := b.st
	must(t, func() (kiosk.SessionView, error) { return st.SignIn("op01", testPIN) })
	for _, tc := range []struct {
		name string
		do   func() error
		want error
	}{
		{"collected online", func() error { _, err := st.Identify(onlineID, "李四", ""); return err }, kiosk.ErrNotEligible},
		{"wrong name", func() error { _, err := st.Identify(eligibleID, "李四", ""); return err }, roster.ErrNameMismatch},
		{"bad check digit", func() error { _, err := st.Identify("330106200403150018", "张三", ""); return err }, roster.ErrBadIDNumber},
		{"control characters", func() error { _, err := st.Identify(eligibleID, "张\x00三", ""); return err }, kiosk.ErrBadInput},
		{"overlong name", func() error { _, err := st.Identify(eligibleID, strings.Repeat("张", 65), ""); return err }, kiosk.ErrBadInput},
		{"consent out of order", func() error { _, err := st.Consent("v1"); return err }, kiosk.ErrSessionState},
		{"frame out of order", func() error { _, err := st.Frame(); return err }, kiosk.ErrSessionState},
	} {
		if err := tc.do(); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v; want %v", tc.name, err, tc.want)
		}
	}
	must(t, func() (kiosk.SessionView, error) { return st.Identify(eligibleID, "张三", "") })
	must(t, func() (kiosk.SessionView, error) { return st.Consent("v1") })
	for _, m := range []string{"", "bitcoin", "CASH", "cash\n"} {
		if _, err := st.Pay(m, ""); !errors.Is(err, kiosk.ErrBadInput) {
			t.Errorf("Pay(%q) = %v; want ErrBadInput", m, err)
		}
	}
	if _, err := st.Pay(kiosk.PayQR, strings.Repeat("9", 65)); !errors.Is(err, kiosk.ErrBadInput) {
		t.Errorf("Pay with an overlong receipt = %v; want ErrBadInput", err)
	}
	v := must(t, func() (kiosk.SessionView, error) { return st.Cancel() })
	if v.State != kiosk.SessionIdle || v.Student != nil {
		t.Errorf("after Cancel: %+v; want idle without the student", v)
	}
	if v := st.SignOut(); v.State != kiosk.SessionSignedOut || v.Operator != "" {
		t.Errorf("after SignOut: %+v", v)
	}
}

func TestSessionIdleTimeout(t *testing.T) {
	b := newBooth(t, func(st *kiosk.Station) { st.IdleTimeout = 300 * time.Millisecond })
	must(t, func() (kiosk.SessionView, error) { return b.st.SignIn("op01", testPIN) })
	must(t, func() (kiosk.SessionView, error) { return b.st.Identify(eligibleID, "张三", "") })
	deadline := time.Now().Add(10 * time.Second)
	for b.st.Session().State != kiosk.SessionIdle {
		if time.Now().After(deadline) {
			t.Fatalf("session still %s after the idle timeout", b.st.Session().State)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v := b.st.Session(); v.Student != nil || v.Operator != "王老师" {
		t.Errorf("after the idle timeout: %+v; want the student cleared, the operator still signed in", v)
	}
}

// TestSessionEventsInOrder: session changes made at once by several
// goroutines (two consoles, a console and the idle reset) reach the
// consoles in the order they were made, so none is left on an older view.
func TestSessionEventsInOrder(t *testing.T) {
	b := newBooth(t)
	for range 20 {
		sub := b.st.Subscribe()
		const each = 25 // 50 events fit the subscription's buffer unread
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				for range each {
					b.st.SignOut()
				}
			})
		}
		wg.Wait()
		var last time.Time
		for n := 0; n < 2*each; {
			e, open := <-sub.Events()
			if !open {
				t.Fatalf("subscription ended: %v", sub.Err())
			}
			v, ok := e.Data.(kiosk.SessionView)
			if e.Type != kiosk.EventSession || !ok {
				continue
			}
			if v.Updated.Before(last) {
				t.Fatalf("session event %d of %v came after one of %v", n, v.Updated, last)
			}
			last = v.Updated
			n++
		}
		sub.Close()
	}
}

func TestSessionSaveFailureKeepsReview(t *testing.T) {
	b := newBooth(t)
	b.st.Records = failingRecords{}
	must(t, func() (kiosk.SessionView, error) { return b.st.SignIn("op01", testPIN) })
	must(t, func() (kiosk.SessionView, error) { return b.st.Identify(eligibleID, "张三", "") })
	must(t, func() (kiosk.SessionView, error) { return b.st.Consent("v1") })
	must(t, func() (kiosk.SessionView, error) { return b.st.Pay(kiosk.PayPrepaid, "online-77") })
	must(t, func() (kiosk.SessionView, error) { return b.st.Frame() })
	c, err := b.st.Capture(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.st.Accept(c.ID); !errors.Is(err, queue.ErrDiskFull) {
		t.Fatalf("Accept with a full disk = %v; want ErrDiskFull", err)
	}
	if v := b.st.Session(); v.State != kiosk.SessionReviewing {
		t.Errorf("after a failed save the session is %s; want still reviewing", v.State)
	}
	if _, ok := b.st.CapturePhoto(c.ID); !ok {
		t.Error("after a failed save the photo is no longer under review")
	}
}

type failingRecords struct{}

func (failingRecords) Commit(queue.NewRecord, []byte, []byte) (queue.Record, error) {
	return queue.Record{}, fmt.Errorf("commit: %w", queue.ErrDiskFull)
}
