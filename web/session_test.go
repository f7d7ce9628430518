package web_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"kioskd/kiosk"
	"kioskd/kiosk/queue"
	"kioskd/kiosk/roster"
	"kioskd/web"
)

// The session tests run a real station with a roster, an operators file
// and a record queue in a temporary folder, on the demo camera.

// Fake ID numbers whose check digits are right.
const (
	eligibleID = "330106200403150019" // 张三, eligible, code QR8K2M7Q1
	onlineID   = "330106200407210023" // 李四, collected online
	rejectedID = "110108200311090030" // 王五, rejected: a free retake, code QR8K2M7Q3
	testPIN    = "246810"
)

const testRoster = `身份证号,姓名,学号,学校,专业,毕业年份,状态,采集码,驳回原因
330106200403150019,张三,2022010001,浙江示例大学,计算机科学与技术,2026,待采集,QR8K2M7Q1,
330106200407210023,李四,2022010002,浙江示例大学,数学与应用数学,2026,已采集,,
110108200311090030,王五,2022010003,浙江示例大学,英语,2026,审核未通过,QR8K2M7Q3,背景不是浅蓝色
`

// sessionBooth is a demo booth whose station runs operator sessions.
type sessionBooth struct {
	*harness
	q *queue.Queue
}

// startSessionBooth starts a demo booth with a roster, one operator (op01,
// testPIN, 王老师) and a record queue; configure (if not nil) adjusts the
// server, idle (if given) is the session's idle timeout (none otherwise).
func startSessionBooth(t testing.TB, configure func(*web.Server), idle ...time.Duration) *sessionBooth {
	t.Helper()
	return startSessionBoothWith(t, configure, nil, idle...)
}

// startSessionBoothWith is startSessionBooth with records (if not nil) in
// place of the queue.
func startSessionBoothWith(t testing.TB, configure func(*web.Server), records kiosk.Records, idle ...time.Duration) *sessionBooth {
	t.Helper()
	return startSessionBoothFrame(t, settledAt, configure, records, idle...)
}

// startSessionBoothFrame is startSessionBoothWith whose camera shows the
// demo frame at at (settledAt: the student framed; earlier: the empty
// wall, for calibration).
func startSessionBoothFrame(t testing.TB, at time.Duration, configure func(*web.Server), records kiosk.Records, idle ...time.Duration) *sessionBooth {
	t.Helper()
	dir := t.TempDir()
	q, err := queue.Open(dir, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups run last in, first out: these run after the station stops.
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
	src := newTestSource(kiosk.SourceDemo)
	src.interval = 50 * time.Millisecond
	src.auto = []kiosk.Frame{demoFrame(t, at)}
	// A console of these tests reads only while it waits for an answer:
	// a long write timeout keeps an idle one from being evicted.
	conf := func(s *web.Server) {
		s.WriteTimeout = 2 * time.Minute
		if configure != nil {
			configure(s)
		}
	}
	h := startHarness(t, src, harnessOptions{configure: conf, wrap: func(st *kiosk.Station) web.Station {
		st.Roster, st.Operators, st.Records, st.StationID = r, ops, q, "booth-7"
		if records != nil {
			st.Records = records
		}
		st.IdleTimeout = -1 // a slow test must not see the booth reset
		if len(idle) > 0 {
			st.IdleTimeout = idle[0]
		}
		return st
	}})
	waitStationFrames(t, h.st)
	return &sessionBooth{harness: h, q: q}
}

// step sends a command and returns its result; every text message read on
// the way is appended to seen.
func step(t testing.TB, c *websocket.Conn, seen *bytes.Buffer, typ, msg string) result {
	t.Helper()
	send(t, c, msg)
	raw := waitText(t, c, captureTimeout(), "the result of "+typ, func(raw []byte, m message) bool {
		seen.Write(raw)
		seen.WriteByte('\n')
		var r result
		return m.Type == "result" && json.Unmarshal(raw, &r) == nil && r.For == typ
	})
	var r result
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("result %s: %v", raw, err)
	}
	if r.For != typ || r.OK == nil {
		t.Fatalf("result %s; want one for %s", raw, typ)
	}
	return r
}

// okStep is step for a command that must succeed; it returns the view.
func okStep(t testing.TB, c *websocket.Conn, seen *bytes.Buffer, typ, msg string) kiosk.SessionView {
	t.Helper()
	r := step(t, c, seen, typ, msg)
	if !*r.OK {
		t.Fatalf("%s failed: %+v", msg, r.Error)
	}
	var v kiosk.SessionView
	if err := json.Unmarshal(r.Data, &v); err != nil {
		t.Fatalf("%s: data %s: %v", typ, r.Data, err)
	}
	return v
}

// failStep is step for a command that must fail with code.
func failStep(t testing.TB, c *websocket.Conn, seen *bytes.Buffer, code, typ, msg string) resultError {
	t.Helper()
	r := step(t, c, seen, typ, msg)
	if *r.OK || r.Error == nil || r.Error.Code != code {
		t.Fatalf("%s: ok %v, error %+v; want the error %s", msg, *r.OK, r.Error, code)
	}
	if r.Error.Zh == "" || r.Error.En == "" {
		t.Errorf("%s: error %+v lacks a message", msg, r.Error)
	}
	return *r.Error
}

func helloSessions(t testing.TB, c *websocket.Conn) bool {
	t.Helper()
	m := nextText(t, c, "hello")
	var d struct {
		Sessions bool `json:"sessions"`
		Status   struct {
			Session kiosk.SessionView `json:"session"`
		} `json:"status"`
	}
	if err := json.Unmarshal(m.Data, &d); err != nil {
		t.Fatal(err)
	}
	return d.Sessions
}

func TestSessionCommandsWholeFlow(t *testing.T) {
	b := startSessionBooth(t, nil)
	c := b.dial(t)
	if !helloSessions(t, c) {
		t.Fatal("hello says the station runs no sessions")
	}
	var seen bytes.Buffer
	failStep(t, c, &seen, "signed_out", "identify", `{"type":"identify","id_number":"`+eligibleID+`","name":"张三"}`)
	failStep(t, c, &seen, "sign_in", "sign_in", `{"type":"sign_in","id":"op01","pin":"000000"}`)
	failStep(t, c, &seen, "sign_in", "sign_in", `{"type":"sign_in","id":"op01","pin":"12"}`)
	v := okStep(t, c, &seen, "sign_in", `{"type":"sign_in","id":"op01","pin":"`+testPIN+`"}`)
	if v.State != kiosk.SessionIdle || v.Operator != "王老师" {
		t.Fatalf("after sign-in: %+v", v)
	}
	v = okStep(t, c, &seen, "identify", `{"type":"identify","id_number":"`+eligibleID+`","name":"张三"}`)
	if v.State != kiosk.SessionIdentified || v.Student == nil || v.Student.Masked != "3301**********0019" || v.Student.School != "浙江示例大学" {
		t.Fatalf("identified: %+v", v)
	}
	failStep(t, c, &seen, "session_state", "pay", `{"type":"pay","method":"cash","receipt":""}`)
	okStep(t, c, &seen, "consent", `{"type":"consent","version":"privacy-2026-1"}`)
	v = okStep(t, c, &seen, "pay", `{"type":"pay","method":"cash","receipt":"R-0001"}`)
	if v.Fee == nil || v.Fee.Yuan != 30 || v.Fee.Method != "cash" {
		t.Fatalf("fee %+v", v.Fee)
	}
	okStep(t, c, &seen, "frame", `{"type":"frame"}`)
	send(t, c, `{"type":"capture"}`)
	cp := waitCapture(t, c, kiosk.CaptureReview)
	r := step(t, c, &seen, "accept", `{"type":"accept","id":`+jsonInt(cp.ID)+`}`)
	if !*r.OK {
		t.Fatalf("accept: %+v", r.Error)
	}
	sv := b.st.Session()
	if sv.State != kiosk.SessionSaved || sv.RecordID == "" {
		t.Fatalf("after accept: %+v; want saved", sv)
	}
	rec, err := b.q.Get(sv.RecordID)
	if err != nil || rec.Operator != "op01" || rec.Fee.Receipt != "R-0001" {
		t.Fatalf("queue record %+v, %v", rec, err)
	}
	// The status API shows the saved session, the student masked.
	resp, err := http.Get("http://" + b.addr + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var status struct {
		Session kiosk.SessionView `json:"session"`
	}
	if err := json.Unmarshal(body, &status); err != nil || status.Session.RecordID != sv.RecordID || status.Session.Student == nil {
		t.Errorf("status API session %+v, %v; want the saved session", status.Session, err)
	}
	seen.Write(body)
	// The same student again: already captured here.
	failStep(t, c, &seen, "not_eligible", "identify", `{"type":"identify","id_number":"`+eligibleID+`","name":"张三"}`)
	failStep(t, c, &seen, "name_mismatch", "identify", `{"type":"identify","id_number":"`+onlineID+`","name":"张三"}`)
	e := failStep(t, c, &seen, "bad_id_number", "identify", `{"type":"identify","id_number":"330106200403150018","name":"张三"}`)
	if !strings.Contains(e.Zh, "校验位") {
		t.Errorf("bad check digit says %+v; want the check digit named", e)
	}
	failStep(t, c, &seen, "bad_code", "identify", `{"type":"identify","code":"QR 8K"}`)
	failStep(t, c, &seen, "not_eligible", "identify", `{"type":"identify","code":"ZZ9999"}`)
	// A free retake: fee waived whatever the method.
	v = okStep(t, c, &seen, "identify", `{"type":"identify","code":"QR8K2M7Q3"}`)
	if v.Student == nil || !v.Student.Retake || v.Student.Reason == "" {
		t.Fatalf("rejected student: %+v", v.Student)
	}
	okStep(t, c, &seen, "consent", `{"type":"consent","version":"privacy-2026-1"}`)
	v = okStep(t, c, &seen, "pay", `{"type":"pay","method":"cash","receipt":""}`)
	if v.Fee == nil || v.Fee.Yuan != 0 || v.Fee.Method != "waived" {
		t.Errorf("retake fee %+v; want waived", v.Fee)
	}
	v = okStep(t, c, &seen, "cancel", `{"type":"cancel"}`)
	if v.State != kiosk.SessionIdle || v.Student != nil {
		t.Errorf("after cancel: %+v", v)
	}
	v = okStep(t, c, &seen, "sign_out", `{"type":"sign_out"}`)
	if v.State != kiosk.SessionSignedOut {
		t.Errorf("after sign-out: %+v", v)
	}
	failStep(t, c, &seen, "signed_out", "frame", `{"type":"frame"}`)

	// Nothing the server sent holds a full ID number; the masked form was
	// there.
	out := seen.String()
	for _, id := range []string{eligibleID, onlineID, rejectedID} {
		if strings.Contains(out, id) {
			t.Errorf("the server sent the full ID number %s", id[:4])
		}
	}
	if !strings.Contains(out, "3301**********0019") {
		t.Error("the masked ID number was never sent")
	}
}

// TestResultFollowsItsEvents: a command's result reaches its console after
// the event the command published, even when both wait for the writer at
// once. The writer is held after a frame while the reader answers a
// session step; before the rule, its select picked either first.
func TestResultFollowsItsEvents(t *testing.T) {
	var armed atomic.Bool
	held, release, unhook := make(chan struct{}), make(chan struct{}), make(chan struct{})
	b := startSessionBooth(t, func(s *web.Server) {
		web.SetFrameWritten(s, func(kiosk.Frame) {
			if !armed.CompareAndSwap(true, false) {
				return
			}
			select {
			case held <- struct{}{}:
			case <-unhook:
				return
			}
			select {
			case <-release:
			case <-unhook:
			}
		})
	})
	// Cleanups run last in, first out: the hook lets go before the booth stops.
	t.Cleanup(func() { close(unhook) })
	c := b.dial(t)
	helloSessions(t, c)
	steps := []struct {
		typ, msg string
		after    kiosk.SessionState
	}{
		{"sign_in", `{"type":"sign_in","id":"op01","pin":"` + testPIN + `"}`, kiosk.SessionIdle},
		{"sign_out", `{"type":"sign_out"}`, kiosk.SessionSignedOut},
	}
	for i := range 12 {
		typ, msg := steps[i%2].typ, steps[i%2].msg
		armed.Store(true)
		select {
		case <-held:
		case <-time.After(10 * time.Second):
			t.Fatal("the writer wrote no frame in 10 s")
		}
		send(t, c, msg)
		// The reader publishes the session, then queues the result, while
		// the writer is held: wait for the one, and a moment for the other.
		for deadline := time.Now().Add(10 * time.Second); b.st.Session().State != steps[i%2].after; {
			if time.Now().After(deadline) {
				t.Fatalf("step %d (%s): the session did not change in 10 s", i, typ)
			}
			time.Sleep(time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond)
		release <- struct{}{}
		var event json.RawMessage
		raw := waitText(t, c, captureTimeout(), "the result of "+typ, func(_ []byte, m message) bool {
			if m.Type == kiosk.EventSession {
				event = m.Data
			}
			return m.Type == "result"
		})
		var r result
		if err := json.Unmarshal(raw, &r); err != nil || r.For != typ || r.OK == nil || !*r.OK {
			t.Fatalf("step %d: result %s; want %s ok", i, raw, typ)
		}
		if !bytes.Equal(event, r.Data) {
			t.Fatalf("step %d (%s): the session event before the result is %s; want the result's view %s", i, typ, event, r.Data)
		}
	}
}

func jsonInt(n uint64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestSessionWithoutSetup(t *testing.T) {
	h := startDemoBooth(t, settledAt, nil)
	c := h.dial(t)
	if helloSessions(t, c) {
		t.Fatal("hello says sessions on a station without a roster")
	}
	var seen bytes.Buffer
	failStep(t, c, &seen, "no_session", "sign_in", `{"type":"sign_in","id":"op01","pin":"246810"}`)
	failStep(t, c, &seen, "no_session", "identify", `{"type":"identify","code":"QR8K2M7Q1"}`)
	// Capturing without a session works as before.
	send(t, c, `{"type":"capture"}`)
	waitCapture(t, c, kiosk.CaptureReview)
}

func TestSignInThrottle(t *testing.T) {
	const window = 1500 * time.Millisecond
	b := startSessionBooth(t, func(s *web.Server) { s.SignInWindow = window })
	var seen bytes.Buffer
	wrong := `{"type":"sign_in","id":"op01","pin":"999999"}`
	right := `{"type":"sign_in","id":"op01","pin":"` + testPIN + `"}`
	a := b.dial(t)
	for i := range web.DefaultSignInLimit {
		failStep(t, a, &seen, "sign_in", "sign_in", wrong)
		_ = i
	}
	// Locked: even the right PIN is refused, without a check.
	start := time.Now()
	failStep(t, a, &seen, "too_many", "sign_in", right)
	if b.st.Session().State != kiosk.SessionSignedOut {
		t.Fatal("signed in while locked out")
	}
	// Another connection is not locked yet: the station allows twice as many.
	c2 := b.dial(t)
	for range web.DefaultSignInLimit - 1 {
		failStep(t, c2, &seen, "sign_in", "sign_in", wrong)
	}
	okStep(t, c2, &seen, "sign_in", right)
	okStep(t, c2, &seen, "sign_out", `{"type":"sign_out"}`)
	// One more failure there reaches the station's limit: a new
	// connection is locked out too.
	failStep(t, c2, &seen, "sign_in", "sign_in", wrong)
	c3 := b.dial(t)
	failStep(t, c3, &seen, "too_many", "sign_in", right)
	if time.Since(start) >= window {
		t.Skip("the machine is too slow to test the lockout within its window")
	}
	// After the window, sign-in works again.
	time.Sleep(window + 100*time.Millisecond)
	okStep(t, c3, &seen, "sign_in", right)
	okStep(t, a, &seen, "sign_in", right)
}

func TestSessionHostileMessages(t *testing.T) {
	b := startSessionBooth(t, nil)
	var seen bytes.Buffer
	// Messages of the wrong shape close the connection (1008).
	for _, msg := range []string{
		`{"type":"sign_in","id":"op01"}`,
		`{"type":"sign_in","id":1,"pin":"246810"}`,
		`{"type":"sign_in","id":"op01","pin":246810}`,
		`{"type":"sign_in","id":"op01","pin":"1","x":1}`,
		`{"type":"sign_out","id":"op01"}`,
		`{"type":"identify"}`,
		`{"type":"identify","id_number":"` + eligibleID + `"}`,
		`{"type":"identify","id_number":"` + eligibleID + `","name":"张三","code":"QR8K2M7Q1"}`,
		`{"type":"identify","code":["QR8K2M7Q1"]}`,
		`{"type":"identify","code":null}`,
		`{"type":"consent"}`,
		`{"type":"consent","version":1}`,
		`{"type":"pay","receipt":"R"}`,
		`{"type":"pay","method":"cash","receipt":7}`,
		`{"type":"frame","now":true}`,
		`{"type":"cancel"}{"type":"cancel"}`,
	} {
		c := b.dial(t)
		nextText(t, c, "hello")
		send(t, c, msg)
		if code := closeCode(t, c); code != websocket.ClosePolicyViolation {
			t.Errorf("%s: close code %d; want %d", msg, code, websocket.ClosePolicyViolation)
		}
	}
	// Well-formed messages with bad text get bad_input, and the
	// connection stays.
	c := b.dial(t)
	okStep(t, c, &seen, "sign_in", `{"type":"sign_in","id":"op01","pin":"`+testPIN+`"}`)
	long := strings.Repeat("张", 65)
	for _, tc := range []struct{ typ, msg string }{
		{"identify", `{"type":"identify","id_number":"` + eligibleID + `","name":"张\u0000三"}`},
		{"identify", `{"type":"identify","id_number":"` + eligibleID + `","name":"` + long + `"}`},
		{"identify", `{"type":"identify","code":"QR8K2M7Q1\n"}`},
		{"identify", `{"type":"identify","id_number":"` + strings.Repeat("1", 40) + `","name":"张三"}`},
		{"identify", `{"type":"identify","id_number":"` + eligibleID + `","name":"张\u0085三"}`},
	} {
		failStep(t, c, &seen, "bad_input", tc.typ, tc.msg)
	}
	okStep(t, c, &seen, "identify", `{"type":"identify","id_number":"`+eligibleID+`","name":"张三"}`)
	for _, tc := range []struct{ typ, msg string }{
		{"consent", `{"type":"consent","version":""}`},
		{"consent", `{"type":"consent","version":"v\t1"}`},
		{"consent", `{"type":"consent","version":"` + strings.Repeat("v", 33) + `"}`},
	} {
		failStep(t, c, &seen, "bad_input", tc.typ, tc.msg)
	}
	okStep(t, c, &seen, "consent", `{"type":"consent","version":"v1"}`)
	for _, tc := range []struct{ typ, msg string }{
		{"pay", `{"type":"pay","method":"bitcoin"}`},
		{"pay", `{"type":"pay","method":"CASH"}`},
		{"pay", `{"type":"pay","method":"cash","receipt":"R\u001b1"}`},
		{"pay", `{"type":"pay","method":"cash","receipt":"` + strings.Repeat("9", 65) + `"}`},
	} {
		failStep(t, c, &seen, "bad_input", tc.typ, tc.msg)
	}
	// Control characters in the sign-in fields: bad_input too.
	failStep(t, c, &seen, "bad_input", "sign_in", `{"type":"sign_in","id":"op\u000001","pin":"1"}`)
	// The connection still answers, and the session is where it was.
	send(t, c, `{"type":"ping","id":5}`)
	nextText(t, c, "pong")
	if v := b.st.Session(); v.State != kiosk.SessionConsented {
		t.Errorf("after the refusals the session is %s; want consented", v.State)
	}
}

// fullDisk is a record queue whose disk is full.
type fullDisk struct{}

func (fullDisk) Commit(queue.NewRecord, []byte, []byte) (queue.Record, error) {
	return queue.Record{}, fmt.Errorf("commit: %w", queue.ErrDiskFull)
}

func TestSessionAcceptDiskFull(t *testing.T) {
	b := startSessionBoothWith(t, nil, fullDisk{})
	c := b.dial(t)
	var seen bytes.Buffer
	okStep(t, c, &seen, "sign_in", `{"type":"sign_in","id":"op01","pin":"`+testPIN+`"}`)
	okStep(t, c, &seen, "identify", `{"type":"identify","code":"QR8K2M7Q1"}`)
	okStep(t, c, &seen, "consent", `{"type":"consent","version":"v1"}`)
	okStep(t, c, &seen, "pay", `{"type":"pay","method":"prepaid","receipt":"online-7"}`)
	okStep(t, c, &seen, "frame", `{"type":"frame"}`)
	send(t, c, `{"type":"capture"}`)
	cp := waitCapture(t, c, kiosk.CaptureReview)
	e := failStep(t, c, &seen, "disk_full", "accept", `{"type":"accept","id":`+jsonInt(cp.ID)+`}`)
	if strings.Contains(e.Zh+e.En, "commit") {
		t.Errorf("the message %+v shows the internal error", e)
	}
	if v := b.st.Session(); v.State != kiosk.SessionReviewing || v.RecordID != "" {
		t.Errorf("after a failed save the session is %+v; want still reviewing", v)
	}
	if _, ok := b.st.CapturePhoto(cp.ID); !ok {
		t.Error("the photo left the review after a failed save")
	}
}
