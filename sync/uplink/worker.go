package uplink

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"kioskd/kiosk/queue"
	"kioskd/kiosk/roster"
)

// Defaults for the Worker's tunables.
const (
	DefaultParallel       = 4
	DefaultInterval       = 30 * time.Second
	DefaultBackoffBase    = time.Second
	DefaultBackoffCap     = 5 * time.Minute
	DefaultBlockedRetry   = 5 * time.Minute
	DefaultHeartbeatEvery = time.Minute
)

// The sync health states (Health.State).
const (
	StateIdle    = "idle"    // everything queued was sent
	StateSyncing = "syncing" // records are being sent
	StateOffline = "offline" // network errors, timeouts or 408/429/5xx in a row: waiting out the backoff
	StateBlocked = "blocked" // central refused the token (401/403): waiting BlockedRetry
)

// reviewsFeed is the queue cursor name of central's review feed.
const reviewsFeed = "reviews"

// HeartbeatExtra is what the station adds to its heartbeat from outside the
// queue: its version, the camera's state and the free disk space.
type HeartbeatExtra struct {
	Version  string
	Camera   string
	DiskFree int64
}

// Health is the worker's sync health, kept in memory, for the operator's
// screen, /healthz and /metrics.
type Health struct {
	State       string    // StateIdle, StateSyncing, StateOffline or StateBlocked
	LastSuccess time.Time // the last exchange with central that succeeded
	LastError   string    // the last error, never holding personal data
	NextRetry   time.Time // when the worker tries again after a failure; zero when not waiting
	// Counters since start, for /metrics.
	Attempts      uint64 // record upload attempts
	Failures      uint64 // failed record upload attempts
	Uploaded      uint64 // records central accepted
	UploadedBytes uint64 // bytes of blobs and manifests central took
}

// Worker sends the queue's records to central and applies central's
// roster and review feeds (docs/sync-protocol.md, "The station's worker").
// Set the exported fields before Run; zero values take the Default*
// constants.
type Worker struct {
	Parallel       int           // records uploaded at once
	Interval       time.Duration // feed poll period (also after each drain)
	BackoffBase    time.Duration // first backoff ceiling
	BackoffCap     time.Duration // largest backoff ceiling
	BlockedRetry   time.Duration // wait after a 401/403
	HeartbeatEvery time.Duration // heartbeat period
	Logger         *slog.Logger
	Now            func() time.Time      // wall clock for Health and the heartbeat; waits use the monotonic clock
	Status         func() HeartbeatExtra // optional extras for the heartbeat

	q       *queue.Queue
	ro      *roster.Roster // nil: no roster feed, no local states
	c       *Client
	station string
	wake    chan struct{}
	jitter  func(max time.Duration) time.Duration // nil: uniform (tests make it deterministic)

	// paused is set by the upload that reads the drain's first transient
	// or blocked failure: the other uploads in flight make no further
	// request and drain starts no new one, so nothing reaches central
	// before the backoff or Retry-After has passed. Each drain clears it.
	paused atomic.Bool

	mu     sync.Mutex // guards health
	health Health

	// Owned by Run's goroutine.
	log          *slog.Logger
	streak       int       // transient failures in a row
	notBefore    time.Time // no request before it (backoff, Retry-After, blocked)
	retry        bool      // a failure wants another turn at notBefore, even if that has passed
	failingSince time.Time // start of the current failure streak; zero when healthy
	failState    string    // StateOffline or StateBlocked during a streak
	reviewed     bool      // the feeds applied review outcomes: beat now
}

// New makes a worker for the station's queue, its roster (nil when the
// station keeps none) and central's client.
func New(q *queue.Queue, ro *roster.Roster, c *Client, stationID string) *Worker {
	return &Worker{q: q, ro: ro, c: c, station: stationID, wake: make(chan struct{}, 1), health: Health{State: StateIdle}}
}

// Notify tells the worker a record was saved, so it sends it now rather
// than at the next tick. It never blocks; during a backoff it changes
// nothing.
func (w *Worker) Notify() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Health returns the current sync health. It is safe for concurrent use.
func (w *Worker) Health() Health {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.health
}

func (w *Worker) setDefaults() {
	if w.Parallel <= 0 {
		w.Parallel = DefaultParallel
	}
	if w.Interval <= 0 {
		w.Interval = DefaultInterval
	}
	if w.BackoffBase <= 0 {
		w.BackoffBase = DefaultBackoffBase
	}
	if w.BackoffCap <= 0 {
		w.BackoffCap = DefaultBackoffCap
	}
	if w.BlockedRetry <= 0 {
		w.BlockedRetry = DefaultBlockedRetry
	}
	if w.HeartbeatEvery <= 0 {
		w.HeartbeatEvery = DefaultHeartbeatEvery
	}
	if w.Now == nil {
		w.Now = time.Now
	}
	if w.Logger == nil {
		w.Logger = slog.New(slog.DiscardHandler)
	}
	w.log = w.Logger.With("component", "uplink")
}

// Run syncs until ctx is done and returns nil then. Each turn it reads the
// feeds when they are due (at start, every Interval, and after a drain
// that moved records: a review may settle a record whose upload answer was
// lost, so it is read before uploading), sends every queued record, and
// posts the heartbeat when due. After a failure no request is made before
// the backoff, Retry-After or blocked wait has passed. Run waits for every
// upload it started and closes idle connections before it returns.
func (w *Worker) Run(ctx context.Context) error {
	w.setDefaults()
	defer w.c.CloseIdleConnections()
	nextFeed, nextBeat := time.Now(), time.Now()
	for ctx.Err() == nil {
		if w.ready() && !time.Now().Before(nextFeed) {
			w.feeds(ctx)
			nextFeed = time.Now().Add(w.Interval)
		}
		if w.reviewed {
			w.reviewed = false
			nextBeat = time.Now() // central's page shows the new counts
		}
		if w.ready() {
			if moved := w.drain(ctx); moved > 0 && w.ready() {
				w.feeds(ctx)
				nextFeed = time.Now().Add(w.Interval)
				nextBeat = time.Now() // after each drain
			}
		}
		if w.ready() && !time.Now().Before(nextBeat) {
			w.beat(ctx)
			nextBeat = time.Now().Add(w.HeartbeatEvery)
		}
		until := nextFeed
		if nextBeat.Before(until) {
			until = nextBeat
		}
		if !w.ready() || w.retry {
			// A short backoff may be over already: the timer fires at
			// once and the next turn retries.
			until = w.notBefore
		}
		t := time.NewTimer(time.Until(until))
		select {
		case <-ctx.Done():
		case <-w.wake:
		case <-t.C:
		}
		t.Stop()
	}
	return nil
}

// ready reports whether requests may be made now.
func (w *Worker) ready() bool { return !time.Now().Before(w.notBefore) }

// class is what an error means for the worker (the protocol's error table).
type class int

const (
	classTransient class = iota // retry after the backoff
	classPermanent              // park the record (or log, for a feed)
	classBlocked                // 401/403: wait BlockedRetry
	classGone                   // 410: reload the feed from an empty cursor
	classStopped                // the worker is stopping
)

func classify(ctx context.Context, err error) class {
	if ctx.Err() != nil || errors.Is(err, errPaused) {
		return classStopped
	}
	var pe *parkError
	if errors.As(err, &pe) {
		return classPermanent
	}
	var se *StatusError
	if !errors.As(err, &se) {
		return classTransient // network, timeout, stall, a 2xx that is not the expected message
	}
	switch s := se.Status; {
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return classBlocked
	case s == http.StatusGone:
		return classGone
	case s == http.StatusRequestTimeout || s == http.StatusTooManyRequests || s >= 500:
		return classTransient
	case s >= 400:
		return classPermanent
	}
	return classTransient // 1xx, 3xx: a proxy or captive portal in the way
}

func retryAfter(err error) time.Duration {
	var se *StatusError
	if errors.As(err, &se) {
		return se.RetryAfter
	}
	return 0
}

// failed records a failed exchange: the backoff (or the blocked wait)
// starts, Health says so, and the first failure of a streak is logged
// (and a change between offline and blocked); repeats are debug lines.
// after is the longest Retry-After central gave with it.
func (w *Worker) failed(err error, c class, after time.Duration) {
	var wait time.Duration
	state := StateOffline
	switch c {
	case classBlocked:
		state, wait = StateBlocked, w.BlockedRetry
	case classTransient:
		w.streak++
		wait = max(backoff(w.streak, w.BackoffBase, w.BackoffCap, w.jitter), min(after, MaxRetryAfter))
	default:
		w.setLastError(err)
		return
	}
	w.notBefore, w.retry = time.Now().Add(wait), true
	w.mu.Lock()
	w.health.State = state
	w.health.LastError = err.Error()
	w.health.NextRetry = w.Now().Add(wait)
	w.mu.Unlock()
	switch {
	case w.failingSince.IsZero():
		w.failingSince = time.Now()
		w.log.Warn("sync failing", "state", state, "err", err, "retryIn", wait.Round(time.Millisecond))
	case w.failState != state:
		w.log.Warn("sync state changed", "state", state, "err", err, "retryIn", wait.Round(time.Millisecond))
	default:
		w.log.Debug("sync still failing", "state", state, "err", err, "retryIn", wait.Round(time.Millisecond))
	}
	w.failState = state
}

func (w *Worker) setLastError(err error) {
	w.mu.Lock()
	w.health.LastError = err.Error()
	w.mu.Unlock()
}

// succeeded records an exchange central answered as expected.
func (w *Worker) succeeded() {
	w.mu.Lock()
	w.health.LastSuccess = w.Now()
	w.mu.Unlock()
}

// recovered ends a failure streak: a drain ran without a transient or
// blocked failure. Only then does the backoff start again from its base,
// so feeds that succeed between failing uploads do not reset it.
func (w *Worker) recovered() {
	if !w.failingSince.IsZero() {
		w.log.Info("sync recovered", "after", time.Since(w.failingSince).Round(time.Millisecond), "failures", w.streak)
		w.failingSince, w.failState = time.Time{}, ""
	}
	w.streak = 0
	w.mu.Lock()
	w.health.NextRetry = time.Time{}
	if w.health.State == StateOffline || w.health.State == StateBlocked {
		w.health.State = StateSyncing
	}
	w.mu.Unlock()
}

func (w *Worker) setState(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.health.State != s {
		w.health.State = s
		w.log.Debug("sync state", "state", s)
	}
}

func (w *Worker) count(f func(h *Health)) {
	w.mu.Lock()
	f(&w.health)
	w.mu.Unlock()
}
