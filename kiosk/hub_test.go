package kiosk_test

import (
	"errors"
	"testing"
	"time"

	"kioskd/kiosk"
)

func TestHubDeliversInOrder(t *testing.T) {
	var h kiosk.Hub
	s := h.Subscribe()
	defer s.Close()
	for i := range 5 {
		h.Publish(kiosk.Event{Type: "n", Data: i})
	}
	for want := range 5 {
		e := <-s.Events()
		if e.Data != want {
			t.Fatalf("event %d: Data = %v; want %d", want, e.Data, want)
		}
	}
}

func TestHubDropsSlowSubscriber(t *testing.T) {
	h := kiosk.Hub{Buffer: 2}
	slow := h.Subscribe()
	fast := h.Subscribe()
	defer fast.Close()

	got := 0
	for i := range 10 {
		h.Publish(kiosk.Event{Type: "n", Data: i})
		<-fast.Events() // the fast one reads every event as it comes
		got++
	}
	if got != 10 {
		t.Fatalf("fast subscriber got %d events; want 10", got)
	}
	// The slow one had room for 2, then was dropped: its channel holds the
	// 2 buffered events and is then closed.
	n := 0
	for range slow.Events() {
		n++
	}
	if n != 2 {
		t.Errorf("slow subscriber drained %d events; want 2", n)
	}
	if !errors.Is(slow.Err(), kiosk.ErrSlowSubscriber) {
		t.Errorf("slow.Err() = %v; want ErrSlowSubscriber", slow.Err())
	}
	if h.Subscribers() != 1 {
		t.Errorf("Subscribers() = %d; want 1", h.Subscribers())
	}
}

func TestHubCloseTwice(t *testing.T) {
	var h kiosk.Hub
	s := h.Subscribe()
	s.Close()
	s.Close()
	if _, ok := <-s.Events(); ok {
		t.Fatal("Events() still open after Close")
	}
	if s.Err() != nil {
		t.Errorf("Err() after Close = %v; want nil", s.Err())
	}
	h.Publish(kiosk.Event{Type: "after"}) // must not panic on a closed channel
}

func TestHubPublishNeverBlocks(t *testing.T) {
	var h kiosk.Hub
	for range 3 {
		h.Subscribe() // never read
	}
	done := make(chan struct{})
	go func() {
		for range 10 * kiosk.DefaultSubscriberBuffer {
			h.Publish(kiosk.Event{Type: "flood"})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Publish blocked on subscribers that never read")
	}
}
