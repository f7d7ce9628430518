package uplink

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxRetryAfter caps how long a Retry-After from central is honoured.
const MaxRetryAfter = time.Hour

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date
// judged against now (central's Date when it sent one). It returns the wait,
// at most MaxRetryAfter and never negative; ok is false for a value that is
// neither form.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		for i := 0; i < len(v); i++ {
			if v[i] < '0' || v[i] > '9' {
				return 0, false
			}
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n > uint64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter, true // too many digits to parse is still "a long time"
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	switch {
	case d < 0:
		return 0, true
	case d > MaxRetryAfter:
		return MaxRetryAfter, true
	}
	return d, true
}

// backoff is the full-jitter wait before the next try after n failures in
// a row (n >= 1): a random duration in [0, min(limit, base·2^(n-1))).
// jitter draws it; nil means uniform.
func backoff(n int, base, limit time.Duration, jitter func(max time.Duration) time.Duration) time.Duration {
	ceil := limit
	if n < 1 {
		n = 1
	}
	if n-1 < 62 {
		if d := base << (n - 1); d > 0 && d < limit && d>>(n-1) == base {
			ceil = d
		}
	}
	if ceil <= 0 {
		return 0
	}
	if jitter != nil {
		return min(max(jitter(ceil), 0), ceil)
	}
	return rand.N(ceil)
}
