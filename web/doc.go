// Package web serves the booth's operator console: the embedded UI (plain
// JavaScript modules and CSS from web/static, no build step), a small
// HTTP API and the live preview over one WebSocket per browser tab.
//
// The preview forwards the camera's JPEG bytes untouched: each client has a
// writer that asks the [Station] for the newest frame whenever it is ready
// for one, so a slow client skips frames and never holds up the camera or the
// other clients. Events from the station's hub travel on the same socket as
// JSON text messages: camera state and frame rate, the framing feedback and
// the auto-capture countdown, each capture's progress (working, then review
// or refused, then accepted or discarded) and the booth's calibration with
// the wall's drift.
//
// The console sends commands on the socket: capture, accept or retake the
// photo under review, calibrate the empty booth, the operator's session
// steps, and retry a record central refused (parked). Capture and calibration take
// up to a second or more, so they run in a goroutine of the connection
// (one at a time per connection) while its reader keeps reading; each
// command is answered by a "result" message with a short error code and a
// plain message in both languages, never the error's own text, which goes
// to the log. The station's events then tell every console what happened.
// The photo under review is fetched over HTTP
// (GET /api/captures/{id}/photo.jpg, never cached), and POST /api/capture
// lets an outside trigger (a foot pedal) take a photo. docs/ui-protocol.md
// describes the routes and messages.
//
// The server is meant for loopback. Every request must name the server in
// its Host header (and, if it has one, its Origin), which defeats DNS
// rebinding and keeps other sites from triggering a capture or reading a
// photo; see [Server.AllowedHosts] for other names.
package web
