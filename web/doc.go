// Package web serves the booth's operator console: the embedded UI (plain
// JavaScript modules and CSS from web/static, no build step), a small status
// API and the live preview over one WebSocket per browser tab.
//
// The preview forwards the camera's JPEG bytes untouched: each client has a
// writer that asks the [Station] for the newest frame whenever it is ready
// for one, so a slow client skips frames and never holds up the camera or the
// other clients. Events from the station's hub (camera state, frame rate)
// travel on the same socket as JSON text messages. docs/ui-protocol.md
// describes the messages.
//
// The server is meant for loopback. Every request must name the server in
// its Host header (and, if it has one, its Origin), which defeats DNS
// rebinding; see [Server.AllowedHosts] for other names.
package web
