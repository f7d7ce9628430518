package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"kioskd/kiosk"
)

// Error codes of a failed command, in a result message and in the HTTP
// API's error bodies. The screen shows the message of the code; the
// detail of an internal error goes only to the log.
const (
	codeBusy      = "busy"       // a capture or calibration is already running
	codeNoFrame   = "no_frame"   // the camera has no recent frame
	codeNoCapture = "no_capture" // no such capture under review
	codeNotEmpty  = "not_empty"  // calibration saw a face in the booth
	codeInternal  = "internal"   // anything else; see the log
)

// errorData is a command's failure as the screen shows it: a short code
// and a plain message in both languages.
type errorData struct {
	Code string `json:"code"`
	Zh   string `json:"zh"`
	En   string `json:"en"`
}

// errorTexts are the plain messages of the error codes.
var errorTexts = map[string]errorData{
	codeBusy:      {codeBusy, "正在处理上一张照片，请稍候", "Still working on the previous photo: wait a moment"},
	codeNoFrame:   {codeNoFrame, "摄像头暂无画面，请检查摄像头", "No picture from the camera: check the camera"},
	codeNoCapture: {codeNoCapture, "这张照片已不在确认中", "That photo is no longer waiting for review"},
	codeNotEmpty:  {codeNotEmpty, "画面中有人：请让拍摄区域无人后再校准", "Someone is in the picture: clear the booth, then calibrate"},
	codeInternal:  {codeInternal, "站点内部错误，请重试；如反复出现请联系管理员", "Internal error in the station: try again, and call the administrator if it persists"},
}

// errorFor maps a station error to its code; nil for nil.
func errorFor(err error) *errorData {
	var code string
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kiosk.ErrCaptureBusy):
		code = codeBusy
	case errors.Is(err, kiosk.ErrNoFrame):
		code = codeNoFrame
	case errors.Is(err, kiosk.ErrNoCapture):
		code = codeNoCapture
	case errors.Is(err, kiosk.ErrBoothNotEmpty):
		code = codeNotEmpty
	default:
		if e, ok := sessionErrorFor(err); ok {
			return e // a save that failed on accept, a session step
		}
		code = codeInternal
	}
	e := errorTexts[code]
	return &e
}

// resultMessage is the answer to the command typ: ok with data, or the
// error e.
func resultMessage(typ string, data any, e *errorData) serverMessage {
	ok := e == nil
	m := serverMessage{Type: serverResult, Time: time.Now(), For: typ, OK: &ok, Error: e}
	if ok {
		m.Data = data
	}
	return m
}

// runJob runs a capture or a calibration for a WebSocket client and
// returns its result message. A refused capture is a success: the
// Capture says why, and the station's events tell every console.
func (s *Server) runJob(ctx context.Context, typ string) serverMessage {
	var data any
	var err error
	switch typ {
	case clientCapture:
		data, err = s.st.Capture(ctx, false)
	case clientCalibrate:
		data, err = s.st.Calibrate(ctx)
	}
	e := errorFor(err)
	if e != nil && e.Code == codeInternal && ctx.Err() == nil {
		s.logger.Error("command failed", "command", typ, "err", err)
	}
	return resultMessage(typ, data, e)
}

// endReview accepts or retakes capture id for a WebSocket client.
func (s *Server) endReview(typ string, id uint64) serverMessage {
	var c kiosk.Capture
	var err error
	if typ == clientAccept {
		c, err = s.st.Accept(id)
	} else {
		c, err = s.st.Retake(id)
	}
	e := errorFor(err)
	if e != nil && e.Code == codeInternal {
		s.logger.Error("command failed", "command", typ, "err", err)
	}
	return resultMessage(typ, c, e)
}

// handlePhoto serves the standardized JPEG of the capture under review.
// The photo exists only while it is under review: afterwards, and for any
// other ID, 404. An ID that is not a decimal number in 1..MaxCaptureID is
// 400.
func (s *Server) handlePhoto(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil || id == 0 || id > MaxCaptureID {
		http.Error(w, "bad capture id", http.StatusBadRequest)
		return
	}
	b, ok := s.st.CapturePhoto(id)
	if !ok {
		http.Error(w, "no such photo under review", http.StatusNotFound)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "image/jpeg")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	// The photo is personal data and changes with every capture: no
	// cache may keep it.
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodHead {
		w.Write(b)
	}
}

// captureTimeout bounds a capture asked for over HTTP.
const captureTimeout = 30 * time.Second

// handleCapture takes a photo, as the console's Capture button does, and
// answers with the Capture (200; a refused capture is a 200 too, whose
// state says so), or with an error body {"error": errorData}: 409 when busy,
// 503 without a camera frame, 500 otherwise.
func (s *Server) handleCapture(w http.ResponseWriter, r *http.Request) {
	// A capture the caller gave up on still finishes (its events reach
	// the consoles); only the server's shutdown aborts it.
	ctx, cancel := context.WithTimeout(s.jobContext(r), captureTimeout)
	defer cancel()
	c, err := s.st.Capture(ctx, false)
	if e := errorFor(err); e != nil {
		status := http.StatusInternalServerError
		switch e.Code {
		case codeBusy:
			status = http.StatusConflict
		case codeNoFrame:
			status = http.StatusServiceUnavailable
		default:
			if ctx.Err() == nil {
				s.logger.Error("command failed", "command", clientCapture, "err", err)
			}
		}
		writeJSON(w, s, status, struct {
			Error *errorData `json:"error"`
		}{e})
		return
	}
	writeJSON(w, s, http.StatusOK, c)
}

// jobContext is the context of work a request starts that should outlive
// the request: done when the server stops, not when the client leaves.
func (s *Server) jobContext(r *http.Request) context.Context {
	s.mu.Lock()
	base := s.base
	s.mu.Unlock()
	if base == nil {
		// Served without Run (a test's httptest server): bounded by the
		// caller's timeout only.
		return context.WithoutCancel(r.Context())
	}
	return base
}

// writeJSON writes v as the JSON body of a response with status.
func writeJSON(w http.ResponseWriter, s *Server, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		s.logger.Error("encode response", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}
