package photo

import "time"

// DefaultHold is how long every check must pass, over consecutive analysed
// frames, before the station may capture by itself.
const DefaultHold = 700 * time.Millisecond

// Readiness tracks consecutive passing frames by their timestamps (the
// camera's frame times, not the wall clock, so that analysis delays and
// tests do not change the verdict). The zero value uses DefaultHold. It is
// not safe for concurrent use.
type Readiness struct {
	// Hold is how long the checks must keep passing; 0 means DefaultHold.
	Hold time.Duration

	since time.Time // time of the first frame of the current passing run
	last  time.Time
	run   bool
}

// Update records one analysed frame taken at t and reports whether every
// check has passed on every frame from t-Hold to t. A failing frame, or a
// frame older than the previous one, starts over.
func (r *Readiness) Update(t time.Time, a Analysis) bool {
	hold := r.Hold
	if hold <= 0 {
		hold = DefaultHold
	}
	if !a.Ready {
		r.run = false
		r.last = t
		return false
	}
	if !r.run || t.Before(r.last) {
		r.run, r.since = true, t
	}
	r.last = t
	return t.Sub(r.since) >= hold
}

// Reset forgets the current run (a new student, a capture).
func (r *Readiness) Reset() { r.run = false }

// HeldFor is how long the current passing run has lasted at the last
// frame, for a progress ring in the UI; 0 when not passing.
func (r *Readiness) HeldFor() time.Duration {
	if !r.run {
		return 0
	}
	return r.last.Sub(r.since)
}
