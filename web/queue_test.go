package web_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"kioskd/kiosk"
	"kioskd/kiosk/queue"
	"kioskd/web"
)

// queueStatus is the part of /api/status and of a "queue" message the
// queue panel reads.
type queueStatus struct {
	Queue   *kiosk.QueueStatus `json:"queue"`
	Figures *kiosk.Figures     `json:"figures"`
}

// getQueueStatus fetches /api/status and decodes its queue and figures;
// raw reports whether the body has a "queue" key at all.
func getQueueStatus(t testing.TB, addr string) (st queueStatus, raw map[string]json.RawMessage) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/api/status")
	if err != nil {
		t.Fatalf("GET /api/status: %v", err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b.Bytes(), &st); err != nil {
		t.Fatalf("decode /api/status: %v", err)
	}
	if err := json.Unmarshal(b.Bytes(), &raw); err != nil {
		t.Fatalf("decode /api/status: %v", err)
	}
	return st, raw
}

// TestStatusQueueAndFigures: /api/status and the periodic "queue" message
// carry the record queue's counts and today's figures, and both move when a
// student is saved.
func TestStatusQueueAndFigures(t *testing.T) {
	b := startSessionBooth(t, func(s *web.Server) { s.QueuePeriod = 100 * time.Millisecond })
	st, _ := getQueueStatus(t, b.addr)
	if st.Queue == nil || st.Figures == nil {
		t.Fatalf("status before any record: queue %v, figures %v; want both", st.Queue, st.Figures)
	}
	if n := st.Queue.Counts[queue.StateQueued]; n != 0 || !st.Queue.OldestQueued.IsZero() {
		t.Errorf("empty queue shows %d queued, oldest %v", n, st.Queue.OldestQueued)
	}
	if today := time.Now().Format(time.DateOnly); st.Figures.Day != today || st.Figures.Saved != 0 {
		t.Errorf("figures before any student: %+v; want day %s, none saved", st.Figures, today)
	}

	c := b.dial(t)
	var seen bytes.Buffer
	okStep(t, c, &seen, "sign_in", `{"type":"sign_in","id":"op01","pin":"`+testPIN+`"}`)
	okStep(t, c, &seen, "identify", `{"type":"identify","code":"QR8K2M7Q1"}`)
	okStep(t, c, &seen, "consent", `{"type":"consent","version":"privacy-2026-1"}`)
	okStep(t, c, &seen, "pay", `{"type":"pay","method":"cash","receipt":"R-0001"}`)
	okStep(t, c, &seen, "frame", `{"type":"frame"}`)
	send(t, c, `{"type":"capture"}`)
	cp := waitCapture(t, c, kiosk.CaptureReview)
	if r := step(t, c, &seen, "accept", `{"type":"accept","id":`+jsonInt(cp.ID)+`}`); !*r.OK {
		t.Fatalf("accept: %+v", r.Error)
	}

	st, _ = getQueueStatus(t, b.addr)
	if st.Queue == nil || st.Figures == nil {
		t.Fatalf("status after a save: queue %v, figures %v", st.Queue, st.Figures)
	}
	if n := st.Queue.Counts[queue.StateQueued]; n != 1 {
		t.Errorf("status shows %d queued after one save; want 1", n)
	}
	if o := st.Queue.OldestQueued; o.IsZero() || time.Since(o) > time.Minute || time.Until(o) > time.Second {
		t.Errorf("oldest queued %v; want about now", o)
	}
	if st.Figures.Saved != 1 || st.Figures.Captures < 1 || st.Figures.MedianSeconds <= 0 {
		t.Errorf("figures after one save: %+v; want 1 saved, a capture, a median", st.Figures)
	}

	// The console hears the same on the server's clock, with no event.
	var got queueStatus
	waitText(t, c, 5*time.Second, "a queue message with the saved record", func(_ []byte, m message) bool {
		if m.Type != "queue" {
			return false
		}
		got = queueStatus{}
		if err := json.Unmarshal(m.Data, &got); err != nil {
			t.Fatalf("queue message %s: %v", m.Data, err)
		}
		return got.Queue != nil && got.Queue.Counts[queue.StateQueued] == 1
	})
	if got.Figures == nil || got.Figures.Saved != 1 {
		t.Errorf("queue message figures %+v; want 1 saved", got.Figures)
	}
}

// TestStatusWithoutQueue: a station without a record queue shows no queue
// (the console hides the panel), but still today's figures.
func TestStatusWithoutQueue(t *testing.T) {
	h := startServer(t, newTestSource(kiosk.SourceDemo), nil)
	st, raw := getQueueStatus(t, h.addr)
	if _, ok := raw["queue"]; ok || st.Queue != nil {
		t.Errorf("status of a station without a queue has queue %s", raw["queue"])
	}
	if st.Figures == nil || st.Figures.Day != time.Now().Format(time.DateOnly) {
		t.Errorf("status figures %+v; want today's", st.Figures)
	}
}
