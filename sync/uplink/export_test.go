package uplink

import "time"

// Hooks for the external tests.
var (
	ParseRetryAfter = parseRetryAfter
	ParseToken      = parseToken
	CheckURL        = checkURL
	Backoff         = backoff
)

// SetJitter makes w's backoff draw with f instead of uniformly (f(max) is
// the wait for a ceiling of max), so tests can see the exponential growth.
func SetJitter(w *Worker, f func(max time.Duration) time.Duration) { w.jitter = f }
