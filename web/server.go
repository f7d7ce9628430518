package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"path"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"kioskd/kiosk"
)

// Defaults for the Server's tunables.
const (
	// DefaultWriteTimeout bounds every write to a WebSocket; a client that
	// cannot take a frame within it is disconnected.
	DefaultWriteTimeout = 5 * time.Second
	// DefaultPingPeriod is how often the server pings each WebSocket client.
	DefaultPingPeriod = 10 * time.Second
	// DefaultShutdownTimeout bounds Run's graceful shutdown.
	DefaultShutdownTimeout = 5 * time.Second
	// DefaultReadLimit is the largest WebSocket message accepted from a
	// client, in bytes.
	DefaultReadLimit = MaxClientMessage
	// DefaultQueuePeriod is how often each console is sent the record
	// queue's counts and today's figures.
	DefaultQueuePeriod = 5 * time.Second
)

// Station is what the web server needs of the booth's live loop. It is
// satisfied by *kiosk.Station.
type Station interface {
	// NextFrame waits for the newest frame whose Seq is greater than after.
	NextFrame(ctx context.Context, after uint64) (kiosk.Frame, error)
	// Subscribe starts a subscription to the station's events.
	Subscribe() *kiosk.Subscription
	// Status returns the station's current state.
	Status() kiosk.Status

	// Capture takes a photo from the newest frames and puts it under
	// review (or refuses it, saying why).
	Capture(ctx context.Context, auto bool) (kiosk.Capture, error)
	// CapturePhoto returns the standardized JPEG of the capture under
	// review with that ID.
	CapturePhoto(id uint64) ([]byte, bool)
	// Accept and Retake end the review of a capture.
	Accept(id uint64) (kiosk.Capture, error)
	Retake(id uint64) (kiosk.Capture, error)
	// Calibrate takes the clean plate of the empty booth.
	Calibrate(ctx context.Context) (kiosk.CalibrationStatus, error)

	// The operator's session: each step returns the new view, which the
	// station also publishes as a kiosk.EventSession.
	SignIn(id, pin string) (kiosk.SessionView, error)
	SignOut() kiosk.SessionView
	Identify(idNumber, name, code string) (kiosk.SessionView, error)
	SessionsConfigured() bool
	Consent(version string) (kiosk.SessionView, error)
	Pay(method, receipt string) (kiosk.SessionView, error)
	Frame() (kiosk.SessionView, error)
	Cancel() (kiosk.SessionView, error)

	// RetryRecord queues a parked record again (the queue panel's Retry);
	// only a signed-in operator may.
	RetryRecord(id string) error
}

//go:embed static
var staticFiles embed.FS

// Server serves the operator UI, its status API and the live preview
// WebSocket. Create it with NewServer, set the tunables, call Listen, then Run.
type Server struct {
	// AllowedHosts are extra Host names (with or without ":port"; without a
	// port they match the serving port) the server answers to, besides the
	// listening address, localhost, 127.0.0.1 and [::1]. Set before Run.
	AllowedHosts []string
	// WriteTimeout bounds each WebSocket write; DefaultWriteTimeout if 0.
	WriteTimeout time.Duration
	// PingPeriod is the WebSocket keepalive interval; a client that sends
	// nothing, not even a pong, for two periods is disconnected.
	// DefaultPingPeriod if 0.
	PingPeriod time.Duration
	// ShutdownTimeout bounds Run's graceful shutdown once its context is
	// done; DefaultShutdownTimeout if 0.
	ShutdownTimeout time.Duration
	// ReadLimit is the largest client message in bytes; DefaultReadLimit if
	// 0, and never more than MaxClientMessage.
	ReadLimit int64
	// Metrics, if set, is served at GET /metrics (Metrics.Handler), behind
	// the same Host checks: a Prometheus server scraping from another
	// machine needs -listen on a reachable address and its host name in
	// AllowedHosts. Set before Run.
	Metrics http.Handler
	// SignInLimit is how many failed sign-ins one connection may make
	// within SignInWindow before sign_in answers too_many for a window;
	// all connections together may make twice as many.
	// DefaultSignInLimit if 0.
	SignInLimit int
	// SignInWindow is the period failed sign-ins are counted over and the
	// length of a lockout; DefaultSignInWindow if 0.
	SignInWindow time.Duration
	// QueuePeriod is how often each console is sent a "queue" message
	// (the record queue's counts and today's figures), which the station
	// publishes no event for; DefaultQueuePeriod if 0.
	QueuePeriod time.Duration

	st      Station
	logger  *slog.Logger
	version string
	static  fs.FS
	signIns throttle // the station's failed sign-ins

	// frameWritten, if set (by tests, before Run), is called by a client's
	// writer after each frame's WriteMessage has returned without error.
	frameWritten func(kiosk.Frame)

	mu      sync.Mutex
	ln      net.Listener
	base    context.Context              // Run's context, for work that outlives a request
	conns   map[*websocket.Conn]struct{} // open WebSockets, for forced close
	closing bool                         // Run is shutting down: no new WebSockets
	wg      sync.WaitGroup               // one per WebSocket handler; Add only under mu while !closing
}

// NewServer returns a Server that shows st.
func NewServer(st Station, logger *slog.Logger) *Server {
	static, err := fs.Sub(staticFiles, "static")
	if err != nil {
		// The directory is embedded at build time; this cannot happen.
		panic(fmt.Sprintf("web: embedded static files: %v", err))
	}
	info, ok := debug.ReadBuildInfo()
	return &Server{
		st:      st,
		logger:  logger.With("component", "web"),
		version: buildVersion(info, ok),
		static:  static,
		conns:   make(map[*websocket.Conn]struct{}),
	}
}

// buildVersion is the main module's version, with the VCS revision when the
// build recorded one, or "(devel)".
func buildVersion(info *debug.BuildInfo, ok bool) string {
	if !ok || info == nil {
		return "(devel)"
	}
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+dirty"
			}
		}
	}
	if rev == "" {
		return v
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	return v + " " + rev + modified
}

// Listen binds the server's TCP listener to addr (such as "127.0.0.1:8080",
// or port 0 for any free port) and returns the bound address.
func (s *Server) Listen(addr string) (net.Addr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return nil, errors.New("web: already listening")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	s.ln = ln
	return ln.Addr(), nil
}

// Run serves on the listener bound by Listen until ctx is done, then shuts
// down: it stops accepting, closes every WebSocket with a close frame (1001),
// and waits at most ShutdownTimeout before closing what is left. It returns
// nil on cancellation.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	ln := s.ln
	s.base = ctx
	s.mu.Unlock()
	if ln == nil {
		return errors.New("web: Run called before Listen")
	}
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
		// WebSocket handlers end when ctx is done: every request context
		// derives from it.
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	s.logger.Info("serving", "addr", ln.Addr().String())

	served := make(chan error, 1)
	// Serve returns once Shutdown or Close has been called, or on a
	// listener failure; Run always receives from served before returning.
	go func() { served <- hs.Serve(ln) }()

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
		served = nil
	}

	timeout := s.ShutdownTimeout
	if timeout <= 0 {
		timeout = DefaultShutdownTimeout
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// Shutdown closes the listener and waits for plain HTTP requests; it
	// ignores hijacked connections, which see ctx done and close themselves.
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
	}
	s.waitConns(sctx)
	if served != nil {
		<-served
	}
	s.logger.Info("stopped")
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("serve http: %w", serveErr)
	}
	return nil
}

// waitConns waits for the WebSocket handlers to finish; when ctx ends
// first, it closes their connections, which makes them finish at once.
func (s *Server) waitConns(ctx context.Context) {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	done := make(chan struct{})
	// This goroutine ends when every handler has returned; the forced close
	// below guarantees that happens.
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return
	case <-ctx.Done():
	}
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	<-done
}

// Handler returns the server's HTTP handler: the routes behind the Host and
// Origin checks. Run uses it; tests may serve it with httptest.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.handleHealth)
	mux.HandleFunc("GET /api/status", s.handleStatus)
	mux.HandleFunc("POST /api/capture", s.handleCapture)
	mux.HandleFunc("GET /api/captures/{id}/photo.jpg", s.handlePhoto)
	mux.HandleFunc("GET /ws", s.handleWS)
	if s.Metrics != nil {
		mux.Handle("GET /metrics", s.Metrics)
	}
	mux.Handle("GET /", s.staticHandler())
	return s.checkHost(mux)
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write([]byte("ok\n"))
}

// statusResponse is the body of GET /api/status.
type statusResponse struct {
	Version     string                  `json:"version"`
	Camera      kiosk.CameraStatus      `json:"camera"`
	Stats       kiosk.Stats             `json:"stats"`
	Review      *kiosk.Capture          `json:"review,omitempty"`
	Calibration kiosk.CalibrationStatus `json:"calibration"`
	// Session is the operator's session: the student only masked.
	Session kiosk.SessionView `json:"session"`
	// Queue is the record queue's counts; absent without a queue.
	Queue *kiosk.QueueStatus `json:"queue,omitempty"`
	// Figures are today's numbers at the booth.
	Figures kiosk.Figures `json:"figures"`
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	st := s.st.Status()
	writeJSON(w, s, http.StatusOK, statusResponse{Version: s.version, Camera: st.Camera, Stats: st.Stats,
		Review: st.Review, Calibration: st.Calibration, Session: st.Session, Queue: st.Queue, Figures: st.Figures})
}

func (s *Server) queuePeriod() time.Duration {
	if s.QueuePeriod > 0 {
		return s.QueuePeriod
	}
	return DefaultQueuePeriod
}

// contentTypes are the types of the files the UI ships, fixed here so that
// the answer does not depend on the machine's mime.types.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
	".json": "application/json",
}

// staticHandler serves the embedded UI. Files are revalidated on every load
// (no-cache), so a new daemon build is picked up by a plain reload.
func (s *Server) staticHandler() http.Handler {
	files := http.FileServerFS(s.static)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		ext := path.Ext(r.URL.Path)
		if r.URL.Path == "/" || ext == "" {
			ext = ".html"
		}
		if ct, ok := contentTypes[ext]; ok {
			h.Set("Content-Type", ct)
		}
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' blob: data:; "+
			"object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
		files.ServeHTTP(w, r)
	})
}

// checkHost refuses, with 403, any request whose Host is not one of the
// server's own names, or that carries an Origin that is not http:// one of
// them. This defeats DNS rebinding: a page from another site that resolves
// its own name to 127.0.0.1 still sends its own name as Host.
func (s *Server) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.hostAllowed(r, r.Host) {
			s.logger.Debug("refused host", "remote", r.RemoteAddr)
			http.Error(w, "forbidden: unknown host", http.StatusForbidden)
			return
		}
		if !s.originAllowed(r) {
			s.logger.Debug("refused origin", "remote", r.RemoteAddr)
			http.Error(w, "forbidden: cross-origin request", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// originAllowed reports whether r has no Origin header, or one of the form
// http://host[:port] with an allowed host.
func (s *Server) originAllowed(r *http.Request) bool {
	origin, ok := r.Header["Origin"]
	if !ok {
		return true
	}
	if len(origin) != 1 {
		return false
	}
	const scheme = "http://"
	o := origin[0]
	if len(o) <= len(scheme) || o[:len(scheme)] != scheme {
		return false
	}
	return s.hostAllowed(r, o[len(scheme):])
}

// hostAllowed reports whether host (a Host header value, or the host part of
// an Origin) names this server: its local address or a loopback name on the
// port the request arrived on, or one of AllowedHosts.
func (s *Server) hostAllowed(r *http.Request, host string) bool {
	host = strings.ToLower(host)
	for _, a := range s.AllowedHosts {
		if strings.ToLower(a) == host {
			return true // an entry with its port, matched exactly
		}
	}
	local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if local == nil {
		return false
	}
	_, port, err := net.SplitHostPort(local.String())
	if err != nil {
		return false
	}
	name, hport, err := net.SplitHostPort(host)
	if err != nil {
		// No port: the scheme's default.
		name, hport = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), "80"
	}
	if name == "" || hport != port {
		return false
	}
	if net.JoinHostPort(name, port) == local.String() {
		return true
	}
	switch name {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	for _, a := range s.AllowedHosts {
		if strings.ToLower(a) == name {
			return true // an entry without a port, on the serving port
		}
	}
	return false
}
