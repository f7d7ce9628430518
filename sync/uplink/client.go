package uplink

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"kioskd/sync/wire"
)

// Timeouts of the client's transport (docs/sync-protocol.md, "The
// station's worker"). There is no overall request timeout: a slow upload
// that keeps moving is never cut; the stall watchdog ends one that stops.
const (
	DefaultDialTimeout   = 10 * time.Second
	DefaultTLSTimeout    = 10 * time.Second
	DefaultHeaderTimeout = 30 * time.Second
	DefaultStallTimeout  = 30 * time.Second
)

// maxTokenFile bounds what is read of the token file.
const maxTokenFile = 4 << 10

// Config says how to reach central. Paths name files; secrets are only
// ever read from files.
type Config struct {
	// URL is central's base URL, https://central.example.edu; http:// is
	// accepted only for a loopback host (the demo and tests).
	URL string
	// TokenFile holds the station's bearer token; it must not be readable
	// by group or others (mode 0600 or stricter).
	TokenFile string
	// CAFile is an extra PEM CA to trust besides the system roots; optional.
	CAFile string
	// CertFile and KeyFile are a client certificate and its key (PEM), for
	// a central that requires one; both or neither. KeyFile must be mode
	// 0600 or stricter.
	CertFile, KeyFile string
	// StallTimeout aborts a request when no byte of its body or its answer
	// has moved for this long; DefaultStallTimeout when zero.
	StallTimeout time.Duration
}

// Client speaks the sync protocol to central for one station token. It
// is safe for concurrent use.
type Client struct {
	base      string // scheme://host[/path] without a trailing slash
	token     string
	stall     time.Duration
	http      *http.Client
	transport *http.Transport
}

// NewClient checks cfg and builds a client: the URL (https, or http on a
// loopback host), the token file (present, private, one printable token),
// and the optional CA and client certificate.
func NewClient(cfg Config) (*Client, error) {
	base, err := checkURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("central URL: %w", err)
	}
	token, err := readToken(cfg.TokenFile)
	if err != nil {
		return nil, err
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("central CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("central CA file %s: no PEM certificate in it", cfg.CAFile)
		}
		tlsConf.RootCAs = pool
	}
	if (cfg.CertFile == "") != (cfg.KeyFile == "") {
		return nil, errors.New("client certificate: give both the certificate file and the key file, or neither")
	}
	if cfg.CertFile != "" {
		if err := checkPrivate(cfg.KeyFile); err != nil {
			return nil, fmt.Errorf("client key file: %w", err)
		}
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		tlsConf.Certificates = []tls.Certificate{cert}
	}
	stall := cfg.StallTimeout
	if stall <= 0 {
		stall = DefaultStallTimeout
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: DefaultDialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsConf,
		TLSHandshakeTimeout:   DefaultTLSTimeout,
		ResponseHeaderTimeout: DefaultHeaderTimeout,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
	}
	return &Client{
		base:  base,
		token: token,
		stall: stall,
		http: &http.Client{
			Transport: tr,
			// A redirect is never part of the protocol (and would drop
			// the token across hosts): the answer is taken as it is.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		transport: tr,
	}, nil
}

// checkURL validates central's base URL and returns it without a trailing
// slash.
func checkURL(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("missing")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	switch {
	case u.Host == "" || u.Hostname() == "":
		return "", fmt.Errorf("%q has no host", raw)
	case u.User != nil:
		return "", errors.New("must not hold a user or password (the token is read from its file)")
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return "", errors.New("must not hold a query or a fragment")
	case u.Scheme == "https":
	case u.Scheme == "http":
		if !loopback(u.Hostname()) {
			return "", fmt.Errorf("plain http is allowed only on a loopback host, not %q: use https", u.Hostname())
		}
	default:
		return "", fmt.Errorf("scheme %q: want https (or http on loopback)", u.Scheme)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u.String(), nil
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkPrivate refuses a secret file that group or others can read.
func checkPrivate(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s has mode %04o, which lets group or others read it: run chmod 600 on it", path, perm)
	}
	return nil
}

// ReadToken reads the station's token from path as NewClient does: the
// file must exist, be private (mode 0600 or stricter) and hold one token
// of printable ASCII. The token must never be logged or shown.
func ReadToken(path string) (string, error) { return readToken(path) }

func readToken(path string) (string, error) {
	if path == "" {
		return "", errors.New("central token file: missing (give the file that holds this station's token)")
	}
	if err := checkPrivate(path); err != nil {
		return "", fmt.Errorf("central token file: %w", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("central token file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFile+1))
	if err != nil {
		return "", fmt.Errorf("central token file: %w", err)
	}
	tok, err := parseToken(b)
	if err != nil {
		return "", fmt.Errorf("central token file %s: %w", path, err)
	}
	return tok, nil
}

// parseToken takes the token out of a token file's bytes: one run of
// printable ASCII, surrounding white space ignored.
func parseToken(b []byte) (string, error) {
	if len(b) > maxTokenFile {
		return "", errors.New("over 4 KB: not a token file")
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", errors.New("empty")
	}
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; c <= ' ' || c > '~' {
			return "", errors.New("holds more than one printable token (spaces, line breaks or control bytes inside)")
		}
	}
	return tok, nil
}

// CloseIdleConnections closes the connections kept for reuse; the worker
// calls it when it stops, so none outlives it.
func (c *Client) CloseIdleConnections() { c.transport.CloseIdleConnections() }

// StatusError is an answer from central other than the one expected: its
// HTTP status, the error body's code, message and missing blobs, and how
// long central asked to wait (Retry-After; zero when not given).
type StatusError struct {
	Status     int
	Code       string
	Message    string
	Missing    []string
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("central answered %d", e.Status)
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// errBadAnswer is a 2xx whose body is not the expected message: retried.
var errBadAnswer = errors.New("central's answer is not the expected message")

// ErrStalled is wrapped by the error of a request the watchdog cancelled.
var ErrStalled = errors.New("no byte moved for the stall timeout")

// answer is a response read whole.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// call sends one request and reads the whole answer, at most limit bytes
// of body. A status outside ok is a *StatusError.
func (c *Client) call(ctx context.Context, method, path string, body []byte, ctype string, limit int64, ok ...int) (answer, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	dog := newWatchdog(c.stall, cancel)
	defer dog.stop()

	var rd io.Reader
	if body != nil {
		rd = dog.reader(bytes.NewReader(body))
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.ContentLength = int64(len(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(dog.reader(bytes.NewReader(body))), nil }
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", wire.ContentTypeJSON)
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{}, c.wrap(ctx, method, path, err)
	}
	defer resp.Body.Close()
	dog.kick()
	b, err := io.ReadAll(io.LimitReader(dog.reader(resp.Body), limit+1))
	if err != nil {
		return answer{}, c.wrap(ctx, method, path, err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, body: b}
	for _, s := range ok {
		if s == resp.StatusCode {
			if int64(len(b)) > limit {
				return answer{}, fmt.Errorf("%s %s: %w: body over %d bytes", method, path, errBadAnswer, limit)
			}
			return a, nil
		}
	}
	return a, fmt.Errorf("%s %s: %w", method, path, statusError(a))
}

func (c *Client) wrap(ctx context.Context, method, path string, err error) error {
	if errors.Is(context.Cause(ctx), ErrStalled) {
		return fmt.Errorf("%s %s: %w (%v)", method, path, ErrStalled, err)
	}
	return fmt.Errorf("%s %s: %w", method, path, err)
}

func statusError(a answer) *StatusError {
	e := &StatusError{Status: a.status}
	if len(a.body) > 0 {
		we := wire.DecodeError(bytes.NewReader(a.body))
		e.Code, e.Message, e.Missing = we.Code, we.Message, we.Missing
	}
	if v := a.header.Get("Retry-After"); v != "" {
		now := time.Now()
		if d, err := http.ParseTime(a.header.Get("Date")); err == nil {
			now = d // judge an HTTP date against central's own clock
		}
		e.RetryAfter, _ = parseRetryAfter(v, now)
	}
	return e
}

// Hello asks central who the token belongs to, its time and its epoch
// (`GET /v1/hello`): for kioskd doctor and start-up checks.
func (c *Client) Hello(ctx context.Context) (wire.Hello, error) {
	a, err := c.call(ctx, http.MethodGet, "/v1/hello", nil, "", wire.MaxHeartbeatBytes, http.StatusOK)
	if err != nil {
		return wire.Hello{}, fmt.Errorf("hello: %w", err)
	}
	h, err := wire.DecodeHello(bytes.NewReader(a.body))
	if err != nil {
		return wire.Hello{}, fmt.Errorf("hello: %w: %w", errBadAnswer, err)
	}
	return h, nil
}

func blobPath(sum string) string { return "/v1/blobs/sha256:" + sum }

// hasBlob asks whether central holds the blob verified (HEAD).
func (c *Client) hasBlob(ctx context.Context, sum string) (bool, error) {
	a, err := c.call(ctx, http.MethodHead, blobPath(sum), nil, "", 0, http.StatusOK, http.StatusNotFound)
	if err != nil {
		return false, err
	}
	return a.status == http.StatusOK, nil
}

// putBlob uploads one blob under its SHA-256.
func (c *Client) putBlob(ctx context.Context, sum string, b []byte) error {
	_, err := c.call(ctx, http.MethodPut, blobPath(sum), b, wire.ContentTypeBlob, wire.MaxErrorBytes, http.StatusOK, http.StatusCreated)
	return err
}

// putManifest sends a record's canonical manifest and reads the receipt.
func (c *Client) putManifest(ctx context.Context, id string, canonical []byte) (wire.Receipt, error) {
	a, err := c.call(ctx, http.MethodPut, "/v1/records/"+url.PathEscape(id), canonical, wire.ContentTypeJSON,
		wire.MaxManifestBytes, http.StatusOK, http.StatusCreated)
	if err != nil {
		return wire.Receipt{}, err
	}
	rc, err := wire.DecodeReceipt(bytes.NewReader(a.body))
	if err != nil {
		return wire.Receipt{}, fmt.Errorf("record %s: %w: %w", id, errBadAnswer, err)
	}
	return rc, nil
}

func feedPath(feed, since string, limit int) string {
	q := url.Values{"since": {since}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	return "/v1/" + feed + "?" + q.Encode()
}

// reviews reads one page of the review feed after since.
func (c *Client) reviews(ctx context.Context, since string) (wire.ReviewPage, error) {
	a, err := c.call(ctx, http.MethodGet, feedPath("reviews", since, 0), nil, "", wire.MaxPageBytes, http.StatusOK)
	if err != nil {
		return wire.ReviewPage{}, err
	}
	p, err := wire.DecodeReviewPage(bytes.NewReader(a.body))
	if err != nil {
		return wire.ReviewPage{}, fmt.Errorf("reviews: %w: %w", errBadAnswer, err)
	}
	return p, nil
}

// roster reads one page of the roster feed after since.
func (c *Client) roster(ctx context.Context, since string) (wire.RosterPage, error) {
	a, err := c.call(ctx, http.MethodGet, feedPath("roster", since, 0), nil, "", wire.MaxPageBytes, http.StatusOK)
	if err != nil {
		return wire.RosterPage{}, err
	}
	p, err := wire.DecodeRosterPage(bytes.NewReader(a.body))
	if err != nil {
		return wire.RosterPage{}, fmt.Errorf("roster: %w: %w", errBadAnswer, err)
	}
	return p, nil
}

// heartbeat posts the station's status.
func (c *Client) heartbeat(ctx context.Context, station string, body []byte) error {
	_, err := c.call(ctx, http.MethodPost, "/v1/stations/"+url.PathEscape(station)+"/heartbeat", body,
		wire.ContentTypeJSON, wire.MaxErrorBytes, http.StatusNoContent, http.StatusOK, http.StatusCreated)
	return err
}
