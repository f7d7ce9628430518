package faultproxy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"kioskd/sync/internal/faultproxy"
	"kioskd/sync/wire"
)

// got is what the upstream server received of one request.
type got struct {
	method, path, query string
	n                   int   // body bytes read
	err                 error // from reading the body
	firstByte, lastByte time.Duration
}

// upstream is a small central stand-in that records what reached it and
// answers 201 with respSize bytes.
type upstream struct {
	*httptest.Server
	respSize int

	mu   sync.Mutex
	reqs []got
	seen chan struct{} // one send per request handled
}

func newUpstream(t *testing.T, respSize int) *upstream {
	u := &upstream{respSize: respSize, seen: make(chan struct{}, 1000)}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		g := got{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery}
		buf := make([]byte, 512)
		for {
			n, err := r.Body.Read(buf)
			if n > 0 {
				if g.n == 0 {
					g.firstByte = time.Since(start)
				}
				g.n += n
				g.lastByte = time.Since(start)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				g.err = err
				break
			}
		}
		u.mu.Lock()
		u.reqs = append(u.reqs, g)
		u.mu.Unlock()
		u.seen <- struct{}{}
		if g.err != nil {
			return
		}
		w.WriteHeader(http.StatusCreated)
		w.Write(bytes.Repeat([]byte("r"), u.respSize))
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) received() []got {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]got(nil), u.reqs...)
}

// wait waits for the upstream to have handled n requests in all.
func (u *upstream) wait(t *testing.T, n int) []got {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for len(u.received()) < n {
		select {
		case <-u.seen:
		case <-deadline:
			t.Fatalf("upstream handled %d requests; want %d", len(u.received()), n)
		}
	}
	return u.received()
}

// client is a fresh client per test: no connection reuse, so Go's
// transport never replays a request on its own.
func client(t *testing.T) *http.Client {
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func put(ctx context.Context, c *http.Client, url string, body []byte) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func TestNoFaultForwards(t *testing.T) {
	up := newUpstream(t, 3000)
	p := faultproxy.Start(t, up.URL, 1)
	body := bytes.Repeat([]byte("x"), 70_000)
	resp, b, err := put(t.Context(), client(t), p.URL()+"/v1/records/abc?x=1", body)
	if err != nil || resp.StatusCode != http.StatusCreated || len(b) != 3000 {
		t.Fatalf("PUT through %v = %v, %d bytes, %v; want 201 and 3000 bytes", p, resp, len(b), err)
	}
	g := up.wait(t, 1)[0]
	if g.method != http.MethodPut || g.path != "/v1/records/abc" || g.query != "x=1" || g.n != len(body) || g.err != nil {
		t.Fatalf("upstream got %+v; want the PUT whole", g)
	}
	if s := p.Stats(); s[faultproxy.StatRequests] != 1 || s[faultproxy.StatForwarded] != 1 {
		t.Fatalf("Stats = %v; want 1 request, 1 forwarded", s)
	}
}

func TestResetMidBody(t *testing.T) {
	up := newUpstream(t, 10)
	p := faultproxy.Start(t, up.URL, 2)
	p.SetFaults(faultproxy.Faults{ResetMidBody: 1})
	body := bytes.Repeat([]byte("x"), 200_000)
	if resp, _, err := put(t.Context(), client(t), p.URL()+"/v1/blobs/sha256:00", body); err == nil {
		t.Fatalf("PUT through a reset = %v; want a connection error", resp.Status)
	}
	g := up.wait(t, 1)[0]
	if g.err == nil || g.n >= len(body) || g.n == 0 {
		t.Fatalf("upstream got %+v; want part of the body (%d bytes) and a read error", g, len(body))
	}

	// No body: half a request head reaches upstream, which answers nothing.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, p.URL()+"/v1/hello", nil)
	if resp, err := client(t).Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("GET through a reset = %v; want a connection error", resp.Status)
	}
	if s := p.Stats(); s[string(faultproxy.ResetMidBody)] != 2 || s[faultproxy.StatForwarded] != 0 {
		t.Fatalf("Stats = %v; want 2 resets, none forwarded", s)
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(up.received()); n != 1 {
		t.Fatalf("upstream handled %d requests; want only the PUT's truncated one", n)
	}
}

func TestDropResponse(t *testing.T) {
	up := newUpstream(t, 500)
	p := faultproxy.Start(t, up.URL, 3)
	p.SetFaults(faultproxy.Faults{DropResponse: 1})
	body := bytes.Repeat([]byte("m"), 40_000)
	if resp, _, err := put(t.Context(), client(t), p.URL()+"/v1/records/r1", body); err == nil {
		t.Fatalf("PUT with its answer dropped = %v; want a connection error", resp.Status)
	}
	g := up.wait(t, 1)[0]
	if g.err != nil || g.n != len(body) {
		t.Fatalf("upstream got %+v; want the whole body of %d bytes (central commits)", g, len(body))
	}
}

func TestStatus(t *testing.T) {
	tests := []struct {
		name       string
		faults     faultproxy.Faults
		status     int
		code       string
		retryAfter string
	}{
		{"500", faultproxy.Faults{Status500: 1, RetryAfter: 3 * time.Second}, 500, wire.CodeInternal, ""},
		{"503 with Retry-After", faultproxy.Faults{Status503: 1, RetryAfter: 2 * time.Second}, 503, wire.CodeUnavailable, "2"},
		{"503 without", faultproxy.Faults{Status503: 1}, 503, wire.CodeUnavailable, ""},
		{"429 rounds up", faultproxy.Faults{Status429: 1, RetryAfter: 1500 * time.Millisecond}, 429, wire.CodeRateLimited, "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newUpstream(t, 10)
			p := faultproxy.Start(t, up.URL, 4)
			p.SetFaults(tt.faults)
			resp, b, err := put(t.Context(), client(t), p.URL()+"/v1/records/r1", bytes.Repeat([]byte("z"), 300_000))
			if err != nil {
				t.Fatalf("PUT: %v", err)
			}
			e := wire.DecodeError(bytes.NewReader(b))
			if resp.StatusCode != tt.status || resp.Header.Get("Retry-After") != tt.retryAfter || e.Code != tt.code {
				t.Fatalf("answer %d, Retry-After %q, code %q; want %d, %q, %q",
					resp.StatusCode, resp.Header.Get("Retry-After"), e.Code, tt.status, tt.retryAfter, tt.code)
			}
			if n := len(up.received()); n != 0 {
				t.Fatalf("upstream got %d requests; want none", n)
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	up := newUpstream(t, 10)
	p := faultproxy.Start(t, up.URL, 5)

	t.Run("client gives up", func(t *testing.T) {
		p.SetFaults(faultproxy.Faults{Timeout: 1, MaxHold: time.Minute})
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, _, err := put(ctx, client(t), p.URL()+"/v1/records/r1", []byte("{}"))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("PUT = %v; want the client's deadline", err)
		}
		if d := time.Since(start); d < 200*time.Millisecond || d > 5*time.Second {
			t.Fatalf("PUT returned after %v; want about the client's 200ms", d)
		}
	})
	t.Run("max hold", func(t *testing.T) {
		p.SetFaults(faultproxy.Faults{Timeout: 1, MaxHold: 150 * time.Millisecond})
		start := time.Now()
		_, _, err := put(t.Context(), client(t), p.URL()+"/v1/records/r1", []byte("{}"))
		if err == nil {
			t.Fatal("PUT held past MaxHold succeeded; want the connection closed")
		}
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Fatalf("connection closed after %v; want MaxHold 150ms first", d)
		}
	})
	if n := len(up.received()); n != 0 {
		t.Fatalf("upstream got %d requests; want none", n)
	}
}

func TestSlow(t *testing.T) {
	const (
		delay  = 150 * time.Millisecond
		piece  = 1000
		pause  = 10 * time.Millisecond
		size   = 10 * piece
		pieces = size / piece
	)
	up := newUpstream(t, size)
	p := faultproxy.Start(t, up.URL, 6)
	p.SetFaults(faultproxy.Faults{Slow: 1, SlowDelay: delay, TrickleBytes: piece, TrickleDelay: pause})
	start := time.Now()
	resp, b, err := put(t.Context(), client(t), p.URL()+"/v1/blobs/sha256:00", bytes.Repeat([]byte("s"), size))
	elapsed := time.Since(start)
	if err != nil || resp.StatusCode != http.StatusCreated || len(b) != size {
		t.Fatalf("slow PUT = %v, %d bytes, %v; want 201 and %d bytes", resp, len(b), err, size)
	}
	g := up.wait(t, 1)[0]
	if g.n != size || g.err != nil {
		t.Fatalf("upstream got %+v; want %d bytes", g, size)
	}
	if spread := g.lastByte - g.firstByte; spread < (pieces-1)*pause {
		t.Errorf("upload arrived over %v; want at least %v (trickled)", spread, (pieces-1)*pause)
	}
	if min := delay + 2*(pieces-1)*pause; elapsed < min {
		t.Errorf("slow PUT took %v; want at least %v", elapsed, min)
	}
}

// faultSeq sends n PUTs one after another and returns the faults the proxy
// gave them.
func faultSeq(t *testing.T, seed int64, n int) ([]faultproxy.Fault, map[string]int) {
	up := newUpstream(t, 10)
	p := faultproxy.Start(t, up.URL, seed)
	p.SetFaults(faultproxy.Faults{Status500: 0.2, Status503: 0.2, Status429: 0.2, DropResponse: 0.1})
	c := client(t)
	for i := 0; i < n; i++ {
		put(t.Context(), c, fmt.Sprintf("%s/v1/records/r%d", p.URL(), i), []byte("{}"))
	}
	var seq []faultproxy.Fault
	for i, a := range p.Arrivals() {
		if want := fmt.Sprintf("/v1/records/r%d", i); a.Path != want || a.Method != http.MethodPut {
			t.Fatalf("arrival %d is %s %s; want PUT %s", i, a.Method, a.Path, want)
		}
		seq = append(seq, a.Fault)
	}
	if len(seq) != n {
		t.Fatalf("%d arrivals; want %d", len(seq), n)
	}
	return seq, p.Stats()
}

func TestDeterministic(t *testing.T) {
	const n = 60
	a, stats := faultSeq(t, 42, n)
	b, _ := faultSeq(t, 42, n)
	c, _ := faultSeq(t, 43, n)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("seed 42 gave two sequences:\n%v\n%v", a, b)
	}
	if fmt.Sprint(a) == fmt.Sprint(c) {
		t.Fatalf("seeds 42 and 43 gave the same %d faults", n)
	}
	count := map[string]int{}
	for _, f := range a {
		count[string(f)]++
	}
	for _, k := range []faultproxy.Fault{faultproxy.None, faultproxy.Status500, faultproxy.Status503, faultproxy.Status429, faultproxy.DropResponse} {
		if count[string(k)] == 0 {
			t.Errorf("no %q in %d requests: %v", k, n, a)
		}
		if k != faultproxy.None && stats[string(k)] != count[string(k)] {
			t.Errorf("Stats[%s] = %d; Arrivals show %d", k, stats[string(k)], count[string(k)])
		}
	}
	if stats[faultproxy.StatRequests] != n || stats[faultproxy.StatForwarded] != count[""]+count[string(faultproxy.DropResponse)] {
		t.Errorf("Stats = %v; want %d requests, %d forwarded", stats, n, count[""]+count[string(faultproxy.DropResponse)])
	}
}

func TestSetFaults(t *testing.T) {
	up := newUpstream(t, 10)
	p := faultproxy.Start(t, up.URL, 7)
	c := client(t)
	p.SetFaults(faultproxy.Faults{Status503: 1, RetryAfter: time.Second})
	resp, _, err := put(t.Context(), c, p.URL()+"/a", nil)
	if err != nil || resp.StatusCode != 503 {
		t.Fatalf("with 503 on: %v, %v", resp, err)
	}
	p.SetFaults(faultproxy.Faults{})
	resp, _, err = put(t.Context(), c, p.URL()+"/b", nil)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("with faults off: %v, %v; want 201 from upstream", resp, err)
	}
	arr := p.Arrivals()
	if len(arr) != 2 || arr[0].Fault != faultproxy.Status503 || arr[1].Fault != faultproxy.None || arr[1].Time.Before(arr[0].Time) {
		t.Fatalf("Arrivals = %+v; want a 503 then a clean request, in order", arr)
	}
	for _, bad := range []faultproxy.Faults{{Status500: -0.1}, {Status500: 0.6, Slow: 0.6}, {Timeout: 2}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("SetFaults(%+v) did not panic", bad)
				}
			}()
			p.SetFaults(bad)
		}()
	}
}

// TestCloseLeavesNoGoroutine closes the proxy while it holds a request and
// after every kind of fault: Close must release the request and leave no
// goroutine behind.
func TestCloseLeavesNoGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	up := newUpstream(t, 2000)
	p := faultproxy.New(up.URL, 8)
	tr := &http.Transport{}
	c := &http.Client{Transport: tr}
	for _, f := range []faultproxy.Faults{
		{}, {ResetMidBody: 1}, {DropResponse: 1}, {Status500: 1}, {Status503: 1}, {Status429: 1},
		{Slow: 1, SlowDelay: time.Millisecond, TrickleBytes: 500, TrickleDelay: time.Millisecond},
	} {
		p.SetFaults(f)
		put(t.Context(), c, p.URL()+"/x", bytes.Repeat([]byte("b"), 5000))
	}

	p.SetFaults(faultproxy.Faults{Timeout: 1, MaxHold: time.Hour})
	held := make(chan error, 1)
	go func() { // ends when Close releases the held request
		_, _, err := put(context.Background(), c, p.URL()+"/held", []byte("{}"))
		held <- err
	}()
	for len(p.Arrivals()) < 8 {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close took %v with a request held", d)
	}
	if err := <-held; err == nil {
		t.Fatal("held request succeeded; want it cut by Close")
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, _, err := put(t.Context(), c, p.URL()+"/after", nil); err == nil {
		t.Fatal("request after Close succeeded")
	}
	tr.CloseIdleConnections()
	up.Close()

	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after Close; %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNewRefusesHTTPS(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "http://") {
			t.Fatalf("New(https://...) recovered %v; want a panic naming http://", r)
		}
	}()
	faultproxy.New("https://example.invalid", 1)
}
