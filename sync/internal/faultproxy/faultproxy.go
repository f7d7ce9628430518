package faultproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"kioskd/sync/wire"
)

// Fault names a kind of fault; the empty Fault is none.
type Fault string

// The faults, as Stats and Arrivals name them.
const (
	None         Fault = ""
	ResetMidBody Fault = "reset_mid_body"
	DropResponse Fault = "drop_response"
	Status500    Fault = "status_500"
	Status503    Fault = "status_503"
	Status429    Fault = "status_429"
	Timeout      Fault = "timeout"
	Slow         Fault = "slow"
)

// Keys of Stats besides the fault names.
const (
	StatRequests  = "requests"  // every request that arrived
	StatForwarded = "forwarded" // requests sent whole to upstream (none, slow, drop_response)
)

// DefaultMaxHold is how long a Timeout fault holds a request when
// Faults.MaxHold is zero.
const DefaultMaxHold = time.Minute

// maxDrain bounds what the proxy reads of a request it answers itself.
const maxDrain = wire.MaxBlobBytes + 1<<20

// Faults are the probabilities (each in [0,1], together at most 1) of each
// fault per request, and their parameters.
type Faults struct {
	ResetMidBody, DropResponse, Status500, Status503, Status429, Timeout, Slow float64

	RetryAfter   time.Duration // Retry-After of 503 and 429, whole seconds rounded up; 0 for none
	SlowDelay    time.Duration // Slow: hold the response this long once central has answered
	TrickleBytes int           // Slow: move bodies this many bytes at a time; 0 for no trickle
	TrickleDelay time.Duration // Slow: pause between pieces
	MaxHold      time.Duration // Timeout: close after this; 0 for DefaultMaxHold
}

func (f Faults) table() []struct {
	kind Fault
	p    float64
} {
	return []struct {
		kind Fault
		p    float64
	}{
		{ResetMidBody, f.ResetMidBody}, {DropResponse, f.DropResponse}, {Status500, f.Status500},
		{Status503, f.Status503}, {Status429, f.Status429}, {Timeout, f.Timeout}, {Slow, f.Slow},
	}
}

// Arrival is one request as the proxy saw it arrive, and the fault it got.
type Arrival struct {
	Time   time.Time
	Method string
	Path   string
	Fault  Fault
	// Answered is when the proxy wrote its own answer (500, 503, 429),
	// after reading the request's body; zero for the other faults.
	Answered time.Time
}

// Proxy is a running fault-injecting proxy. Its methods are safe for
// concurrent use.
type Proxy struct {
	seed     int64
	upstream *url.URL
	ln       net.Listener
	srv      *http.Server
	client   *http.Transport

	// ctx is cancelled by Close: it releases held and slowed requests.
	ctx    context.Context
	cancel context.CancelFunc

	serving  sync.WaitGroup // the Serve goroutine
	handlers sync.WaitGroup // every ServeHTTP call in flight

	mu       sync.Mutex
	closed   bool
	rnd      *rand.Rand
	faults   Faults
	stats    map[string]int
	arrivals []Arrival
}

// New starts a proxy to upstream (a base URL, http://) on 127.0.0.1 with
// no faults, drawing them from a source seeded with seed. Like
// httptest.NewServer it panics if it cannot listen.
func New(upstream string, seed int64) *Proxy {
	u, err := url.Parse(upstream)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		panic(fmt.Sprintf("faultproxy: upstream %q is not an http:// base URL", upstream))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("faultproxy: listen: %v", err))
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		seed:     seed,
		upstream: u,
		ln:       ln,
		client: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
			DisableCompression:  true, // pass Accept-Encoding and bodies through untouched
			MaxIdleConnsPerHost: 16,
		},
		ctx:    ctx,
		cancel: cancel,
		rnd:    rand.New(rand.NewPCG(uint64(seed), 0x6b696f736b64)),
		stats:  make(map[string]int),
	}
	p.srv = &http.Server{
		Handler:           http.HandlerFunc(p.serveHTTP),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0), // the faults make it chatty by design
	}
	p.serving.Add(1)
	go func() { // exits when Close closes the listener
		defer p.serving.Done()
		p.srv.Serve(ln)
	}()
	return p
}

// Start is New for a test: Close runs at the end of the test, and the seed
// is logged if the test failed, so the run can be replayed.
func Start(tb testing.TB, upstream string, seed int64) *Proxy {
	tb.Helper()
	p := New(upstream, seed)
	tb.Cleanup(func() {
		p.Close()
		if tb.Failed() {
			tb.Logf("faultproxy: seed %d (replay with this seed)", seed)
		}
	})
	return p
}

// URL is the proxy's base URL: http://127.0.0.1:PORT.
func (p *Proxy) URL() string { return "http://" + p.ln.Addr().String() }

// Seed is the seed the proxy was made with.
func (p *Proxy) Seed() int64 { return p.seed }

// String names the proxy and its seed, for failure messages.
func (p *Proxy) String() string { return fmt.Sprintf("faultproxy(seed %d)", p.seed) }

// SetFaults replaces the fault probabilities, from the next request on (for
// example all zero to let a queue drain). It panics on a probability
// outside [0,1] or a sum over 1: a mistake in the test.
func (p *Proxy) SetFaults(f Faults) {
	sum := 0.0
	for _, e := range f.table() {
		if !(e.p >= 0 && e.p <= 1) {
			panic(fmt.Sprintf("faultproxy: probability of %s is %v", e.kind, e.p))
		}
		sum += e.p
	}
	if sum > 1+1e-9 {
		panic(fmt.Sprintf("faultproxy: probabilities add up to %v, over 1", sum))
	}
	p.mu.Lock()
	p.faults = f
	p.mu.Unlock()
}

// Stats counts the faults injected by kind (the Fault names), every request
// (StatRequests) and the requests forwarded whole (StatForwarded).
func (p *Proxy) Stats() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.stats))
	for k, v := range p.stats {
		out[k] = v
	}
	return out
}

// Arrivals lists the requests in the order they arrived.
func (p *Proxy) Arrivals() []Arrival {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Arrival(nil), p.arrivals...)
}

// Close stops the proxy: it closes the listener and every connection,
// releases held requests, and returns once every goroutine it started has
// ended. It may be called more than once.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()

	p.cancel()
	err := p.srv.Close() // the listener and every connection not hijacked
	p.serving.Wait()
	p.handlers.Wait() // hijacked connections are closed by their handlers
	p.client.CloseIdleConnections()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// pick draws the fault of one request and records its arrival.
func (p *Proxy) pick(r *http.Request) (Fault, Faults, int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return None, Faults{}, 0, false
	}
	p.handlers.Add(1) // under mu, so never after Close's Wait has begun
	x := p.rnd.Float64()
	kind := None
	for _, e := range p.faults.table() {
		if x < e.p {
			kind = e.kind
			break
		}
		x -= e.p
	}
	p.stats[StatRequests]++
	if kind != None {
		p.stats[string(kind)]++
	}
	if kind == None || kind == Slow || kind == DropResponse {
		p.stats[StatForwarded]++
	}
	p.arrivals = append(p.arrivals, Arrival{Time: time.Now(), Method: r.Method, Path: r.URL.Path, Fault: kind})
	return kind, p.faults, len(p.arrivals) - 1, true
}

// answered notes when the proxy's own answer to arrival i was written.
func (p *Proxy) answered(i int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.arrivals[i].Answered = time.Now()
}

func (p *Proxy) serveHTTP(w http.ResponseWriter, r *http.Request) {
	kind, f, idx, ok := p.pick(r)
	if !ok {
		abort(w)
		return
	}
	defer p.handlers.Done()

	// The request's work ends when the client goes or the proxy closes.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(p.ctx, cancel)
	defer stop()

	switch kind {
	case ResetMidBody:
		p.resetMidBody(ctx, w, r)
	case DropResponse:
		if resp, err := p.forward(ctx, r, nil); err == nil {
			io.Copy(io.Discard, resp.Body) // central has answered in full
			resp.Body.Close()
		}
		abort(w)
	case Status500:
		p.answer(w, r, http.StatusInternalServerError, wire.CodeInternal, 0)
		p.answered(idx)
	case Status503:
		p.answer(w, r, http.StatusServiceUnavailable, wire.CodeUnavailable, f.RetryAfter)
		p.answered(idx)
	case Status429:
		p.answer(w, r, http.StatusTooManyRequests, wire.CodeRateLimited, f.RetryAfter)
		p.answered(idx)
	case Timeout:
		io.Copy(io.Discard, io.LimitReader(r.Body, maxDrain)) // lets the server notice the client leave
		hold := f.MaxHold
		if hold <= 0 {
			hold = DefaultMaxHold
		}
		t := time.NewTimer(hold)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		abort(w)
	case Slow:
		var tr *trickle
		if f.TrickleBytes > 0 {
			tr = &trickle{ctx: ctx, n: f.TrickleBytes, delay: f.TrickleDelay}
		}
		resp, err := p.forward(ctx, r, tr)
		if err != nil {
			badGateway(w, err)
			return
		}
		defer resp.Body.Close()
		if !sleep(ctx, f.SlowDelay) {
			abort(w)
			return
		}
		relay(w, resp, tr)
	default:
		resp, err := p.forward(ctx, r, nil)
		if err != nil {
			badGateway(w, err)
			return
		}
		defer resp.Body.Close()
		relay(w, resp, nil)
	}
}

// hop-by-hop headers, not forwarded (RFC 9110 7.6.1).
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func (p *Proxy) target(r *http.Request) *url.URL {
	u := *p.upstream
	u.Path = strings.TrimSuffix(u.Path, "/") + r.URL.Path
	u.RawPath = ""
	u.RawQuery = r.URL.RawQuery
	return &u
}

// forward sends r to upstream, its body through tr when tr is not nil.
func (p *Proxy) forward(ctx context.Context, r *http.Request, tr *trickle) (*http.Response, error) {
	out := r.Clone(ctx)
	out.URL = p.target(r)
	out.Host = ""
	out.RequestURI = ""
	for _, h := range hopHeaders {
		out.Header.Del(h)
	}
	if r.ContentLength == 0 {
		out.Body = nil
	} else if tr != nil {
		out.Body = io.NopCloser(tr.reader(r.Body))
	}
	return p.client.RoundTrip(out)
}

// relay copies upstream's answer to the client, through tr when not nil.
func relay(w http.ResponseWriter, resp *http.Response, tr *trickle) {
	h := w.Header()
	for k, v := range resp.Header {
		h[k] = v
	}
	for _, k := range hopHeaders {
		h.Del(k)
	}
	w.WriteHeader(resp.StatusCode)
	if tr == nil {
		io.Copy(w, resp.Body)
		return
	}
	rc := http.NewResponseController(w)
	tr.copy(func(b []byte) error {
		if _, err := w.Write(b); err != nil {
			return err
		}
		return rc.Flush()
	}, resp.Body)
}

// answer replies itself, as an overloaded central would, after reading
// the body so the client reads the status instead of a write error.
func (p *Proxy) answer(w http.ResponseWriter, r *http.Request, status int, code string, retryAfter time.Duration) {
	io.Copy(io.Discard, io.LimitReader(r.Body, maxDrain))
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64(math.Ceil(retryAfter.Seconds())), 10))
	}
	w.Header().Set("Content-Type", wire.ContentTypeJSON)
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"code":%q,"message":"injected by faultproxy"}`+"\n", code)
}

func badGateway(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", wire.ContentTypeJSON)
	w.WriteHeader(http.StatusBadGateway)
	fmt.Fprintf(w, `{"code":%q,"message":%q}`+"\n", wire.CodeUnavailable, "faultproxy: upstream: "+err.Error())
}

// resetMidBody writes the request head and half its body to upstream on a
// connection of its own, closes it, and resets the client's connection.
func (p *Proxy) resetMidBody(ctx context.Context, w http.ResponseWriter, r *http.Request) {
	defer abortHard(w)
	n := r.ContentLength
	var body []byte
	if n < 0 { // chunked: read it all to know its length
		var err error
		if body, err = io.ReadAll(io.LimitReader(r.Body, maxDrain)); err != nil {
			return
		}
		n = int64(len(body))
	}
	var head bytes.Buffer
	fmt.Fprintf(&head, "%s %s HTTP/1.1\r\nHost: %s\r\n", r.Method, p.target(r).RequestURI(), p.upstream.Host)
	h := r.Header.Clone()
	for _, k := range hopHeaders {
		h.Del(k)
	}
	h.Del("Content-Length")
	h.Write(&head)
	if n > 0 {
		fmt.Fprintf(&head, "Content-Length: %d\r\n", n)
	}
	head.WriteString("Connection: close\r\n\r\n")

	conn, err := (&net.Dialer{Timeout: 10 * time.Second}).DialContext(ctx, "tcp", p.upstream.Host)
	if err != nil {
		return
	}
	defer conn.Close() // an orderly close: central reads what was sent, then EOF mid-request
	if n == 0 {
		conn.Write(head.Bytes()[:head.Len()/2])
		return
	}
	if _, err := conn.Write(head.Bytes()); err != nil {
		return
	}
	if body != nil {
		conn.Write(body[:n/2])
		return
	}
	io.CopyN(conn, r.Body, n/2)
}

// abort closes the client's connection without writing anything.
func abort(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		conn.Close()
	}
}

// abortHard resets the client's connection (RST, not FIN).
func abortHard(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// sleep waits d or until ctx ends, reporting whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// trickle moves bytes n at a time with a pause between pieces.
type trickle struct {
	ctx   context.Context
	n     int
	delay time.Duration
}

func (t *trickle) reader(r io.Reader) io.Reader {
	return &trickleReader{t: t, r: r}
}

type trickleReader struct {
	t       *trickle
	r       io.Reader
	started bool
}

func (tr *trickleReader) Read(b []byte) (int, error) {
	if tr.started && !sleep(tr.t.ctx, tr.t.delay) {
		return 0, tr.t.ctx.Err()
	}
	tr.started = true
	if len(b) > tr.t.n {
		b = b[:tr.t.n]
	}
	return tr.r.Read(b)
}

func (t *trickle) copy(write func([]byte) error, r io.Reader) {
	buf := make([]byte, t.n)
	for first := true; ; first = false {
		if !first && !sleep(t.ctx, t.delay) {
			return
		}
		n, err := io.ReadFull(r, buf)
		if n > 0 && write(buf[:n]) != nil {
			return
		}
		if err != nil {
			return
		}
	}
}
