package kiosk_test

import (
	"errors"
	"strings"
	"testing"

	"kioskd/kiosk"
	"kioskd/kiosk/queue"
	"kioskd/kiosk/roster"
)

// commitRecord saves one record straight into the booth's queue, as a
// save would, and returns its ID.
func commitRecord(t *testing.T, q *queue.Queue) string {
	t.Helper()
	r, err := q.Commit(queue.NewRecord{StationID: "booth-7", Operator: "op01", IDNumber: eligibleID, Name: "张三",
		Spec: "chsi-graduation", Background: "replace", Fee: queue.Fee{Yuan: 30, Method: kiosk.PayCash}},
		[]byte("photo"), []byte("original"))
	if err != nil {
		t.Fatal(err)
	}
	return r.ID
}

// park moves record id to parked, as the uplink does after a 4xx.
func park(t *testing.T, q *queue.Queue, id, reason string) {
	t.Helper()
	if err := q.MarkUploading(id); err != nil {
		t.Fatal(err)
	}
	if err := q.Park(id, reason); err != nil {
		t.Fatal(err)
	}
}

func TestRetryRecord(t *testing.T) {
	b := newBooth(t)
	parked := commitRecord(t, b.q)
	park(t, b.q, parked, "manifest refused: 422")
	waiting := commitRecord(t, b.q)

	// Signed out: refused, and the record stays parked.
	if err := b.st.RetryRecord(parked); !errors.Is(err, kiosk.ErrSignedOut) {
		t.Errorf("RetryRecord signed out = %v; want ErrSignedOut", err)
	}
	if r, _ := b.q.Get(parked); r.State != queue.StateParked {
		t.Fatalf("after a refused retry the record is %s; want parked", r.State)
	}
	must(t, func() (kiosk.SessionView, error) { return b.st.SignIn("op01", testPIN) })

	tests := []struct {
		name string
		id   string
		want error
	}{
		{"waiting record", waiting, kiosk.ErrNotParked},
		{"unknown record", "01890a5d-ac96-774b-bcce-b302099a8057", queue.ErrNotFound},
		{"malformed id", "not-a-record", queue.ErrNotFound},
		{"empty id", "", queue.ErrNotFound},
		{"parked record", parked, nil},
		{"the same record again", parked, kiosk.ErrNotParked},
	}
	for _, tt := range tests {
		err := b.st.RetryRecord(tt.id)
		if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("%s: RetryRecord(%q) = %v; want %v", tt.name, tt.id, err, tt.want)
		}
	}
	r, err := b.q.Get(parked)
	if err != nil || r.State != queue.StateQueued || r.Reason != "" {
		t.Errorf("after the retry the record is %s (reason %q, %v); want queued without a reason", r.State, r.Reason, err)
	}
	if r, _ := b.q.Get(waiting); r.State != queue.StateQueued {
		t.Errorf("a retry of a waiting record left it %s; want queued", r.State)
	}
	// The queue panel shows the retried record as waiting.
	qs, ok := b.st.QueueStatus()
	if !ok || qs.Counts[queue.StateParked] != 0 || qs.Counts[queue.StateQueued] != 2 {
		t.Errorf("queue status after the retry: %+v; want 2 queued, none parked", qs.Counts)
	}
}

// commitOnly is a record queue that can save but not unpark.
type commitOnly struct{ kiosk.Records }

func TestRetryRecordUnsupported(t *testing.T) {
	q, err := queue.Open(t.TempDir(), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	hash, err := roster.HashPIN(testPIN, 1000)
	if err != nil {
		t.Fatal(err)
	}
	ops, err := roster.ParseOperators(strings.NewReader("op01 " + hash + " 王老师\n"))
	if err != nil {
		t.Fatal(err)
	}
	// A station that is not running: the session needs no live loop.
	st := kiosk.NewStation(&loopSource{}, discard())
	if err := st.RetryRecord("x"); !errors.Is(err, kiosk.ErrSessionNoSetup) {
		t.Errorf("RetryRecord without a queue = %v; want ErrSessionNoSetup", err)
	}
	st.Operators, st.Records = ops, commitOnly{q}
	if _, err := st.SignIn("op01", testPIN); err != nil {
		t.Fatal(err)
	}
	id := commitRecord(t, q)
	park(t, q, id, "manifest refused: 422")
	err = st.RetryRecord(id)
	if err == nil || !strings.Contains(err.Error(), "cannot unpark") {
		t.Errorf("RetryRecord with a queue that cannot unpark = %v; want an error saying so", err)
	}
	if r, _ := q.Get(id); r.State != queue.StateParked {
		t.Errorf("the record is %s; want still parked", r.State)
	}
}
