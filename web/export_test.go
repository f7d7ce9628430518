package web

import (
	"errors"

	"kioskd/kiosk"
)

// ClientMessage is clientMessage, for the external tests.
type ClientMessage = clientMessage

// ParseClientMessage is parseClientMessage, for the external tests.
var ParseClientMessage = parseClientMessage

// BuildVersion is buildVersion, for the external tests.
var BuildVersion = buildVersion

// CloseCode returns the WebSocket close code a parse error leads to.
func CloseCode(err error) (int, bool) {
	var pe *protocolError
	if !errors.As(err, &pe) {
		return 0, false
	}
	return pe.Code, true
}

// SetFrameWritten installs a hook called by every client's writer after a
// frame's WriteMessage has returned. Set it before Run; fn must be safe for
// concurrent use.
func SetFrameWritten(s *Server, fn func(kiosk.Frame)) { s.frameWritten = fn }

// Clients reports how many WebSocket clients are connected.
func Clients(s *Server) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}
