package central

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"kioskd/sync/wire"
)

// maxRosterUpload bounds a roster CSV upload: kiosk/roster's 500,000 rows
// at about 130 bytes each.
const maxRosterUpload = 64 << 20

// blobPrefix starts every blob name in a path: /v1/blobs/sha256:{hex}.
const blobPrefix = "sha256:"

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/hello", s.station(s.handleHello))
	mux.HandleFunc("HEAD /v1/blobs/{name}", s.station(s.handleHeadBlob))
	mux.HandleFunc("PUT /v1/blobs/{name}", s.station(s.handlePutBlob))
	mux.HandleFunc("PUT /v1/records/{id}", s.station(s.handlePutRecord))
	mux.HandleFunc("GET /v1/roster", s.station(s.handleRoster))
	mux.HandleFunc("GET /v1/reviews", s.station(s.handleReviews))
	mux.HandleFunc("POST /v1/stations/{id}/heartbeat", s.station(s.handleHeartbeat))
	mux.HandleFunc("POST /v1/admin/reviews", s.adminOnly(s.handleAdminReview))
	mux.HandleFunc("POST /v1/admin/roster", s.adminOnly(s.handleAdminRoster))
	mux.HandleFunc("GET /admin", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/admin/", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /admin/{$}", s.adminOnly(s.handlePage))
	mux.HandleFunc("GET /admin/admin.css", s.adminOnly(handleCSS))
	mux.HandleFunc("GET /admin/photo/{id}", s.adminOnly(s.handlePhoto))
	mux.HandleFunc("POST /admin/review", s.adminOnly(s.handleFormReview))
	mux.HandleFunc("POST /admin/roster", s.adminOnly(s.handleFormRoster))
	mux.Handle("/", fallback(mux))
	return s.guard(mux)
}

// guard refuses paths that are not clean (the mux would redirect them,
// and ".." in a blob name is no name), sets the headers every response
// carries, and turns a panic into a 500.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("handler panicked", "path", r.URL.Path, "panic", fmt.Sprint(v))
				writeError(w, http.StatusInternalServerError, wire.CodeInternal, "internal error", nil)
			}
		}()
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		if !cleanPath(r.URL.Path) {
			writeError(w, http.StatusBadRequest, wire.CodeBadRequest, "the path is not clean (., .. or empty segments)", nil)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// cleanPath reports whether p is absolute with no ".", ".." or empty
// segment (but for a trailing slash).
func cleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	segs := strings.Split(p[1:], "/")
	for i, seg := range segs {
		if seg == "." || seg == ".." || seg == "" && i != len(segs)-1 {
			return false
		}
	}
	return true
}

// methods are those fallback tries for the Allow header of a 405.
var methods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// fallback answers what no route takes: 405 (with Allow) when the path
// has routes under other methods, else 404, both as JSON errors.
func fallback(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range methods {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, http.StatusMethodNotAllowed, wire.CodeMethod, r.Method+" is not allowed here", nil)
			return
		}
		writeError(w, http.StatusNotFound, wire.CodeNotFound, "no such route", nil)
	})
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"code":"internal","message":"encode response"}`)
	}
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", wire.ContentTypeJSON)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

func writeError(w http.ResponseWriter, status int, code, msg string, missing []string) {
	writeJSON(w, status, wire.Error{Code: code, Message: msg, Missing: missing})
}

// errBadRequest marks a malformed request (400 bad_request).
var errBadRequest = errors.New("bad request")

// status maps an error to the protocol's status and code.
func status(err error) (int, string) {
	var (
		missing *MissingBlobsError
		tooBig  *http.MaxBytesError
		roster  *RosterError
	)
	switch {
	case errors.As(err, &tooBig), errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge, wire.CodeTooLarge
	case errors.As(err, &missing):
		return http.StatusPreconditionFailed, wire.CodeMissingBlobs
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden, wire.CodeForbidden
	case errors.Is(err, ErrConflict), errors.Is(err, ErrReviewed):
		return http.StatusConflict, wire.CodeRecordConflict
	case errors.Is(err, ErrRetakeConflict):
		return http.StatusConflict, wire.CodeRetakeConflict
	case errors.Is(err, ErrHashMismatch):
		return http.StatusUnprocessableEntity, wire.CodeHashMismatch
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound, wire.CodeNotFound
	case errors.Is(err, ErrCursorGone):
		return http.StatusGone, wire.CodeCursorGone
	case errors.Is(err, ErrBadCursor), errors.Is(err, errBadRequest):
		return http.StatusBadRequest, wire.CodeBadRequest
	case errors.As(err, &roster), errors.Is(err, wire.ErrInvalid):
		return http.StatusUnprocessableEntity, wire.CodeInvalid
	}
	return http.StatusInternalServerError, wire.CodeInternal
}

// fail answers err as the protocol's JSON error. Messages of 4xx errors
// are the error's text (no ID number or name is ever in one); a 500 says
// only "internal error" and logs the cause.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code, word := status(err)
	msg := err.Error()
	var missing []string
	var mb *MissingBlobsError
	if errors.As(err, &mb) {
		missing = mb.Missing
	}
	if code == http.StatusInternalServerError {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "internal error"
	}
	if len(msg) > 4096 {
		msg = msg[:4096]
	}
	writeError(w, code, word, msg, missing)
}

// bodyReader reads a request body and keeps the first read error, so a
// failure can be told apart as the client's (short body, too large) or
// the server's.
type bodyReader struct {
	r   io.ReadCloser
	err error
}

// Close closes the request body.
func (b *bodyReader) Close() error { return b.r.Close() }

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

// clientErr returns the body's read error as the client's fault (413 or
// 400), or nil when reading went well.
func (b *bodyReader) clientErr() error {
	if b.err == nil {
		return nil
	}
	var tooBig *http.MaxBytesError
	if errors.As(b.err, &tooBig) {
		return b.err
	}
	return fmt.Errorf("%w: reading the body: %w", errBadRequest, b.err)
}

func limitBody(w http.ResponseWriter, r *http.Request, n int64) *bodyReader {
	return &bodyReader{r: http.MaxBytesReader(w, r.Body, n)}
}

// bearer returns the token of an "Authorization: Bearer TOKEN" header.
func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// station wraps a station handler: a known station token (401 otherwise)
// and, on a connection with a verified client certificate, a certificate
// of that station (403 otherwise).
func (s *Server) station(h func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearer(r)
		id := ""
		if ok {
			id, ok = s.stations.lookup(token)
		}
		if !ok {
			writeError(w, http.StatusUnauthorized, wire.CodeUnauthorized, "no token, or a token central does not know", nil)
			return
		}
		if err := checkPeer(r, id); err != nil {
			s.fail(w, r, err)
			return
		}
		h(w, r, id)
	}
}

// isAdmin reports whether r carries the admin token, as a Bearer token or
// as the password of Basic authentication with user "admin".
func (s *Server) isAdmin(r *http.Request) bool {
	var presented string
	if t, ok := bearer(r); ok {
		presented = t
	} else if user, pass, ok := r.BasicAuth(); ok && user == "admin" {
		presented = pass
	} else {
		return false
	}
	sum := sha256.Sum256([]byte(presented))
	return subtle.ConstantTimeCompare(sum[:], s.adminSum[:]) == 1
}

// csrf refuses unsafe cross-origin browser requests (Sec-Fetch-Site, or an
// Origin whose host is not the request's); requests with neither header
// (API clients) pass.
var csrf = http.NewCrossOriginProtection()

// adminOnly wraps an admin handler: the admin token (a station's token is
// 403, anything else 401 with a Basic challenge, so a browser asks), and
// same-origin for unsafe methods (403).
func (s *Server) adminOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.isAdmin(r) {
			if t, ok := bearer(r); ok {
				if _, known := s.stations.lookup(t); known {
					writeError(w, http.StatusForbidden, wire.CodeForbidden, "a station's token cannot use admin endpoints", nil)
					return
				}
			}
			w.Header().Set("WWW-Authenticate", `Basic realm="kioskd central", charset="UTF-8"`)
			writeError(w, http.StatusUnauthorized, wire.CodeUnauthorized, "the admin token is required", nil)
			return
		}
		if err := csrf.Check(r); err != nil {
			writeError(w, http.StatusForbidden, wire.CodeForbidden, "cross-origin request refused", nil)
			return
		}
		h(w, r)
	}
}

func (s *Server) handleHello(w http.ResponseWriter, r *http.Request, station string) {
	writeJSON(w, http.StatusOK, wire.Hello{
		Protocol:     wire.Version,
		StationID:    station,
		ServerTime:   s.now(),
		ServerEpoch:  s.epoch,
		MaxBlobBytes: s.opt.MaxBlobBytes,
	})
}

// blobName returns the SHA-256 of a path's "sha256:{hex}".
func blobName(r *http.Request) (string, error) {
	sum, ok := strings.CutPrefix(r.PathValue("name"), blobPrefix)
	if !ok || !wire.ValidSHA256(sum) {
		return "", fmt.Errorf("%w: a blob is named sha256: and 64 lower-case hex digits", errBadRequest)
	}
	return sum, nil
}

func (s *Server) handleHeadBlob(w http.ResponseWriter, r *http.Request, _ string) {
	sum, err := blobName(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	size, ok := s.blobSize(sum)
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	w.WriteHeader(http.StatusOK)
}

// blobAnswer is the body of a blob PUT's 2xx.
type blobAnswer struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

func (s *Server) handlePutBlob(w http.ResponseWriter, r *http.Request, _ string) {
	sum, err := blobName(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	switch {
	case r.ContentLength < 0:
		s.fail(w, r, fmt.Errorf("%w: Content-Length is required", errBadRequest))
		return
	case r.ContentLength > s.opt.MaxBlobBytes:
		s.fail(w, r, fmt.Errorf("blob: %w: at most %d bytes", ErrTooLarge, s.opt.MaxBlobBytes))
		return
	}
	body := limitBody(w, r, s.opt.MaxBlobBytes)
	if size, held := s.blobSize(sum); held {
		// Read the body anyway: a client still sending would otherwise see
		// its connection reset instead of this answer.
		io.Copy(io.Discard, body)
		writeJSON(w, http.StatusOK, blobAnswer{SHA256: sum, Size: size})
		return
	}
	created, err := s.PutBlob(sum, body)
	if cerr := body.clientErr(); cerr != nil {
		err = cerr
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	writeJSON(w, code, blobAnswer{SHA256: sum, Size: r.ContentLength})
}

func (s *Server) handlePutRecord(w http.ResponseWriter, r *http.Request, station string) {
	id := r.PathValue("id")
	if !wire.ValidRecordID(id) {
		s.fail(w, r, fmt.Errorf("%w: the path's record ID is not a version 7 UUID", errBadRequest))
		return
	}
	body := limitBody(w, r, wire.MaxManifestBytes)
	m, err := wire.DecodeManifest(body)
	if cerr := body.clientErr(); cerr != nil {
		err = cerr
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if m.RecordID != id {
		s.fail(w, r, fmt.Errorf("%w: the path's record ID is not the manifest's record_id", errBadRequest))
		return
	}
	receipt, created, err := s.CommitRecord(station, m)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	writeRaw(w, code, receipt)
}

// feedQuery reads a feed's since and limit: limit defaults to max and is
// capped at it; a limit that is not a positive number is bad_request.
func feedQuery(r *http.Request, max int) (since string, limit int, err error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return "", 0, fmt.Errorf("%w: query: %w", errBadRequest, err)
	}
	if len(q["since"]) > 1 || len(q["limit"]) > 1 {
		return "", 0, fmt.Errorf("%w: since or limit given twice", errBadRequest)
	}
	limit = max
	if v := q.Get("limit"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		var ne *strconv.NumError
		switch {
		case errors.As(err, &ne) && ne.Err == strconv.ErrRange:
			n = uint64(max)
		case err != nil || n == 0:
			return "", 0, fmt.Errorf("%w: limit must be a number from 1 to %d", errBadRequest, max)
		}
		limit = int(min(n, uint64(max)))
	}
	return q.Get("since"), limit, nil
}

func (s *Server) handleRoster(w http.ResponseWriter, r *http.Request, _ string) {
	since, limit, err := feedQuery(r, wire.MaxRosterPage)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	page, err := s.rosterPage(since, limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) handleReviews(w http.ResponseWriter, r *http.Request, station string) {
	since, limit, err := feedQuery(r, wire.MaxReviewPage)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	page, err := s.reviewPage(station, since, limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) handleHeartbeat(w http.ResponseWriter, r *http.Request, station string) {
	if r.PathValue("id") != station {
		s.fail(w, r, fmt.Errorf("heartbeat: %w", ErrForbidden))
		return
	}
	body := limitBody(w, r, wire.MaxHeartbeatBytes)
	h, err := wire.DecodeHeartbeat(body)
	if cerr := body.clientErr(); cerr != nil {
		err = cerr
	}
	if err == nil && h.StationID != station {
		err = fmt.Errorf("heartbeat: %w", ErrForbidden)
	}
	if err == nil {
		err = s.putHeartbeat(station, h)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleAdminReview(w http.ResponseWriter, r *http.Request) {
	body := limitBody(w, r, wire.MaxReviewBytes)
	rq, err := wire.DecodeReviewRequest(body)
	if cerr := body.clientErr(); cerr != nil {
		err = cerr
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rv, created, err := s.review(rq)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	writeJSON(w, code, rv)
}

func (s *Server) handleAdminRoster(w http.ResponseWriter, r *http.Request) {
	body := limitBody(w, r, maxRosterUpload)
	res, err := s.ImportRoster(body)
	if cerr := body.clientErr(); cerr != nil {
		err = cerr
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
