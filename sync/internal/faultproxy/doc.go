// Package faultproxy is a test helper: an HTTP reverse proxy on loopback
// that sits between the station's uplink and a real central server and
// injects the faults a campus network and a busy server produce, chosen
// per request by a seeded random source so that a failing run can be
// replayed with its seed.
//
// Faults, each with its probability in Faults:
//
//	ResetMidBody  forward the request head and half the body (half the head
//	              when there is no body), then close both connections: central
//	              sees a truncated request, the client a reset.
//	DropResponse  forward the request whole, read central's whole answer (so
//	              central has committed), then close the client's connection
//	              without a byte of it.
//	Status500,    answer 500, 503 or 429 without forwarding (after reading the
//	Status503,    request body, so the client reliably reads the answer);
//	Status429     503 and 429 carry Retry-After when Faults.RetryAfter > 0.
//	Timeout       read the request, answer nothing until the client gives up,
//	              or close after Faults.MaxHold.
//	Slow          forward, then hold the answer Faults.SlowDelay and, with
//	              TrickleBytes > 0, trickle both the request body to central
//	              and the response body to the client in TrickleBytes pieces,
//	              TrickleDelay apart.
//
// One number is drawn per request, in arrival order, and the kinds take
// their shares of [0,1) in the order above; so with a fixed seed and
// requests sent one after another the faults repeat exactly. (Go's
// http.Transport retries a GET or HEAD on a reused connection that failed
// before any answer: such a retry is a request of its own here.) Upstream
// must be an http:// URL, as test servers are.
package faultproxy
