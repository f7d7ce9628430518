package queue_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"kioskd/kiosk/queue"
)

func TestMaintainPurgesAtOnce(t *testing.T) {
	clk := newClock()
	q := openQueue(t, t.TempDir(), queue.Options{Now: clk.Now})
	r, _, _ := commit(t, q, testIDNumber)
	opUp.do(q, r.ID)
	opAccept.do(q, r.ID)
	clk.Advance(8 * 24 * time.Hour)

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- q.Maintain(ctx, time.Hour, 0, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := q.Get(r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Purged() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Maintain did not purge a record accepted 8 days ago")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Maintain = %v; want nil on cancellation", err)
	}
}
