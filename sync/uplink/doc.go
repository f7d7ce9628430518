// Package uplink is the station side of the sync protocol
// (docs/sync-protocol.md): a Client that speaks it to central, and a
// Worker that sends the record queue and applies central's feeds.
//
// # The worker
//
// Run loops until its context ends. Each turn:
//
//  1. when due (at start, every Interval, and after a drain that moved
//     records) it reads the review feed, then the roster feed. Reviews are
//     read before uploading so that a record whose upload answer was lost
//     settles with the receipt the review carries, without a second upload;
//  2. it drains the queue: queued records, oldest first, Parallel at once.
//     Each goes queued → uploading; its blobs are checked with HEAD and
//     sent with PUT when central lacks them; the manifest goes with PUT; a
//     2xx whose receipt matches the manifest marks it accepted;
//  3. when due (every HeartbeatEvery, and after a drain) it posts the
//     heartbeat.
//
// Failures follow the protocol's error table. A transient one (network,
// timeout, stall, 408, 429, 5xx, a 2xx that is not a receipt) puts the
// record back to queued and makes the whole worker wait: full-jitter
// exponential backoff, with central's Retry-After (at most an hour) as a
// floor; no request goes out before the wait ends. 401 and 403 put the
// record back too and block the worker for BlockedRetry. Any other 4xx
// parks the record with the reason. Records whose blobs were purged or are
// damaged, or that belong to another station, are parked without a
// request. Nothing is ever deleted.
//
//	          ┌─────────── success ───────────┐
//	          ▼                               │
//	idle ──► syncing ──► offline (backoff) ───┤
//	          │                               │
//	          └────────► blocked (401/403) ───┘
//
// # Feeds
//
// The review feed is applied page by page: the roster's local state of
// each reviewed student first (idempotent), then the queue's outcomes with
// the new cursor in one transaction. The roster feed is applied page by
// page with its cursor (roster.ApplyChanges), or, from an empty cursor or
// after 410, read whole and applied with roster.ReplaceAll.
//
// # Timeouts
//
// The client's transport bounds dialling (10 s), the TLS handshake (10 s)
// and the wait for response headers (30 s); there is no overall timeout.
// A watchdog cancels a request when no byte of its body or answer has
// moved for Config.StallTimeout (30 s), so a slow link that keeps moving is
// never cut. Every wait of the worker also ends with its context.
//
// Logs carry record IDs, counts and errors, never an ID number, a name or
// the token; a failure streak logs one line when it starts and one
// ("sync recovered") when it ends.
package uplink
