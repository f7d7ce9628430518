package kiosk

import (
	"errors"
	"sync"
	"time"
)

// Event is one thing that happened at the station, as the operator's screen
// receives it (encoded as JSON).
type Event struct {
	Type string    `json:"type"` // EventCamera, EventStats, ...
	Time time.Time `json:"time"`
	Data any       `json:"data"`
}

// Event types.
const (
	EventCamera = "camera" // Data is a CameraStatus
	EventStats  = "stats"  // Data is a Stats, once a second
)

// ErrSlowSubscriber is the reason a subscription ends when its reader did not
// keep up with the events.
var ErrSlowSubscriber = errors.New("event subscriber too slow")

// DefaultSubscriberBuffer is how many events a subscriber may fall behind
// before the hub drops it.
const DefaultSubscriberBuffer = 64

// Hub fans events out to subscribers. Publish never blocks: a subscriber whose
// buffer is full is dropped (its channel is closed and Err says why), so one
// stuck browser tab can never hold up the station. The zero Hub is ready.
type Hub struct {
	// Buffer is each new subscriber's buffer; DefaultSubscriberBuffer if 0.
	Buffer int

	mu   sync.Mutex
	subs map[*Subscription]struct{}
}

// Subscription is one reader of the hub's events.
type Subscription struct {
	hub *Hub
	c   chan Event
	err error // set under hub.mu before c is closed
}

// Subscribe starts a subscription. Call Close when done with it.
func (h *Hub) Subscribe() *Subscription {
	n := h.Buffer
	if n <= 0 {
		n = DefaultSubscriberBuffer
	}
	s := &Subscription{hub: h, c: make(chan Event, n)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs == nil {
		h.subs = make(map[*Subscription]struct{})
	}
	h.subs[s] = struct{}{}
	return s
}

// Publish sends e to every subscriber without waiting for any of them.
func (h *Hub) Publish(e Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		select {
		case s.c <- e:
		default:
			h.removeLocked(s, ErrSlowSubscriber)
		}
	}
}

// Subscribers reports how many subscriptions are open.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

func (h *Hub) removeLocked(s *Subscription, err error) {
	if _, ok := h.subs[s]; !ok {
		return
	}
	delete(h.subs, s)
	s.err = err
	close(s.c)
}

// Events returns the channel of events. It is closed when the subscription
// ends, by Close or because the reader fell behind.
func (s *Subscription) Events() <-chan Event { return s.c }

// Err reports why the subscription ended: nil while it is open or after
// Close, ErrSlowSubscriber if the hub dropped it.
func (s *Subscription) Err() error {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.err
}

// Close ends the subscription. It is safe to call more than once.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.hub.removeLocked(s, nil)
}
