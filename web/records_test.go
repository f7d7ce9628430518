package web_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"kioskd/kiosk"
	"kioskd/kiosk/queue"
	"kioskd/web"
)

// The retry tests put records straight into the booth's queue and park
// them as the uplink does after central refused them for good.

// commitRecord saves one record of the eligible student and returns its ID.
func commitRecord(t testing.TB, q *queue.Queue) string {
	t.Helper()
	r, err := q.Commit(queue.NewRecord{StationID: "booth-7", Operator: "op01", IDNumber: eligibleID, Name: "张三",
		Spec: "chsi-graduation", Background: "replace", Fee: queue.Fee{Yuan: 30, Method: kiosk.PayCash}},
		[]byte("photo"), []byte("original"))
	if err != nil {
		t.Fatal(err)
	}
	return r.ID
}

// parkRecord moves record id through an upload attempt to parked.
func parkRecord(t testing.TB, q *queue.Queue, id, reason string) {
	t.Helper()
	if err := q.MarkUploading(id); err != nil {
		t.Fatal(err)
	}
	if err := q.Park(id, reason); err != nil {
		t.Fatal(err)
	}
}

// recordState is the state of record id in the queue.
func recordState(t testing.TB, q *queue.Queue, id string) queue.State {
	t.Helper()
	r, err := q.Get(id)
	if err != nil {
		t.Fatalf("get record: %v", err)
	}
	return r.State
}

func retryMsg(id string) string {
	b, _ := json.Marshal(map[string]string{"type": "retry_record", "id": id})
	return string(b)
}

func TestRetryRecordCommand(t *testing.T) {
	// No periodic queue message in this test: the one that follows a
	// retry can only be the retry's own.
	b := startSessionBooth(t, func(s *web.Server) { s.QueuePeriod = time.Hour })
	parked := commitRecord(t, b.q)
	parkRecord(t, b.q, parked, "manifest refused: 422 spec unknown")
	waiting := commitRecord(t, b.q)
	c := b.dial(t)
	nextText(t, c, "hello")
	var seen bytes.Buffer

	// Signed out: refused, the record stays parked.
	failStep(t, c, &seen, "signed_out", "retry_record", retryMsg(parked))
	if s := recordState(t, b.q, parked); s != queue.StateParked {
		t.Fatalf("after a refused retry the record is %s; want parked", s)
	}
	okStep(t, c, &seen, "sign_in", `{"type":"sign_in","id":"op01","pin":"`+testPIN+`"}`)

	r := step(t, c, &seen, "retry_record", retryMsg(parked))
	if !*r.OK {
		t.Fatalf("retry of a parked record: %+v", r.Error)
	}
	var data struct {
		ID    string      `json:"id"`
		State queue.State `json:"state"`
	}
	if err := json.Unmarshal(r.Data, &data); err != nil || data.ID != parked || data.State != queue.StateQueued {
		t.Errorf("retry result data %s (%v); want the record's ID and queued", r.Data, err)
	}
	rec, err := b.q.Get(parked)
	if err != nil || rec.State != queue.StateQueued || rec.Reason != "" {
		t.Fatalf("after the retry the record is %s, reason %q (%v); want queued, no reason", rec.State, rec.Reason, err)
	}
	// The console that asked hears the new state at once.
	var q queueStatus
	waitText(t, c, 5*time.Second, "the queue after the retry", func(_ []byte, m message) bool {
		if m.Type != "queue" {
			return false
		}
		if err := json.Unmarshal(m.Data, &q); err != nil {
			t.Fatalf("queue message %s: %v", m.Data, err)
		}
		return true
	})
	if q.Queue == nil || q.Queue.Counts[queue.StateParked] != 0 || q.Queue.Counts[queue.StateQueued] != 2 {
		t.Errorf("queue after the retry: %+v; want 2 queued, none parked", q.Queue)
	} else {
		for _, v := range q.Queue.Recent {
			if v.ID == parked && (v.State != queue.StateQueued || v.Reason != "") {
				t.Errorf("the retried record is listed as %s (%q); want queued", v.State, v.Reason)
			}
		}
	}

	tests := []struct {
		name, id, code string
	}{
		{"retried already", parked, "not_parked"},
		{"waiting record", waiting, "not_parked"},
		{"unknown record", "01890a5d-ac96-774b-bcce-b302099a8057", "not_found"},
		{"not a record ID", "abc", "not_found"},
		{"empty", "", "bad_input"},
		{"longer than an ID", strings.Repeat("a", 37), "bad_input"},
		{"huge", strings.Repeat("0", 3000), "bad_input"},
		{"control characters", "01890a5d-ac96-774b-bcce-\x00302099a8057", "bad_input"},
	}
	for _, tt := range tests {
		e := failStep(t, c, &seen, tt.code, "retry_record", retryMsg(tt.id))
		if strings.Contains(e.Zh+e.En, tt.id) && tt.id != "" {
			t.Errorf("%s: the message %+v repeats the ID", tt.name, e)
		}
	}
	if s := recordState(t, b.q, waiting); s != queue.StateQueued {
		t.Errorf("the waiting record is %s after the refused retries; want queued", s)
	}
	// Sign-out: refused again.
	parkRecord(t, b.q, waiting, "photo refused: 413")
	okStep(t, c, &seen, "sign_out", `{"type":"sign_out"}`)
	failStep(t, c, &seen, "signed_out", "retry_record", retryMsg(waiting))
	if s := recordState(t, b.q, waiting); s != queue.StateParked {
		t.Errorf("a signed-out retry moved the record to %s", s)
	}
	// The connection is still open.
	send(t, c, `{"type":"ping","id":9}`)
	nextText(t, c, "pong")
	if strings.Contains(seen.String(), eligibleID) || strings.Contains(seen.String(), "张三") {
		t.Error("a message carried the student's ID number or name")
	}
}

// TestRetryRecordProtocol: a retry_record that is not the protocol's
// closes the connection; the record is untouched.
func TestRetryRecordProtocol(t *testing.T) {
	b := startSessionBooth(t, nil)
	parked := commitRecord(t, b.q)
	parkRecord(t, b.q, parked, "manifest refused: 422")
	tests := []struct {
		name string
		msg  string
		code int
	}{
		{"missing id", `{"type":"retry_record"}`, websocket.ClosePolicyViolation},
		{"id null", `{"type":"retry_record","id":null}`, websocket.ClosePolicyViolation},
		{"id a number", `{"type":"retry_record","id":7}`, websocket.ClosePolicyViolation},
		{"id an array", `{"type":"retry_record","id":["` + parked + `"]}`, websocket.ClosePolicyViolation},
		{"an extra field", `{"type":"retry_record","id":"` + parked + `","force":true}`, websocket.ClosePolicyViolation},
		{"over the message limit", retryMsg(strings.Repeat("a", web.MaxClientMessage)), websocket.CloseMessageTooBig},
	}
	for _, tt := range tests {
		c := b.dial(t)
		nextText(t, c, "hello")
		var seen bytes.Buffer
		okStep(t, c, &seen, "sign_in", `{"type":"sign_in","id":"op01","pin":"`+testPIN+`"}`)
		send(t, c, tt.msg)
		if got := closeCode(t, c); got != tt.code {
			t.Errorf("%s: close code %d; want %d", tt.name, got, tt.code)
		}
	}
	if s := recordState(t, b.q, parked); s != queue.StateParked {
		t.Errorf("after the refused messages the record is %s; want parked", s)
	}
}

func TestParseRetryRecord(t *testing.T) {
	tests := []struct {
		in   string
		want web.ClientMessage
		code int
	}{
		{`{"type":"retry_record","id":"01890a5d-ac96-774b-bcce-b302099a8057"}`, web.ClientMessage{Type: "retry_record", Record: "01890a5d-ac96-774b-bcce-b302099a8057"}, 0},
		// Content is the command's matter (bad_input), not the parser's.
		{`{"id":"","type":"retry_record"}`, web.ClientMessage{Type: "retry_record"}, 0},
		{`{"type":"retry_record","id":"a\u0000"}`, web.ClientMessage{Type: "retry_record", Record: "a\x00"}, 0},
		{`{"type":"retry_record"}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{`{"type":"retry_record","id":null}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{`{"type":"retry_record","id":1}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{`{"type":"retry_record","id":"x","pin":"1"}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
		{`{"type":"retry_record","id":"x"} {}`, web.ClientMessage{}, websocket.ClosePolicyViolation},
	}
	for _, tt := range tests {
		got, err := web.ParseClientMessage(websocket.TextMessage, []byte(tt.in))
		code, _ := web.CloseCode(err)
		if tt.code == 0 && err != nil || tt.code != 0 && code != tt.code {
			t.Errorf("ParseClientMessage(%s) error %v (close %d); want close %d", tt.in, err, code, tt.code)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseClientMessage(%s) = %+v; want %+v", tt.in, got, tt.want)
		}
	}
}
