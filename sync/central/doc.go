// Package central is the reference central server of the sync protocol
// (docs/sync-protocol.md): it receives the stations' records, serves them
// roster changes and review outcomes, and gives people a small admin page.
// `kioskd central` runs it over TLS; the demo and the tests run it on
// loopback.
//
// 中文摘要：中心服务器接收各工作站上传的记录（每个记录 ID 永远只保存一份），
// 向工作站提供名单变更和审核结果，并提供一个简单的管理页面。
//
// # On disk
//
//	DIR/central.db      bbolt (buckets below)
//	DIR/blobs/<sha256>  each photo and original frame, named by the SHA-256
//	                    of its bytes; written to a temp file, verified,
//	                    fsynced, renamed, folder fsynced
//	DIR/admin.token     32 random bytes, base64url, mode 0600, made at the
//	                    first Open
//	DIR/stations        "STATION-ID SHA256-HEX" per line ('#' comments): the
//	                    SHA-256 of each station's token; AddStation appends
//	                    to it and a running server re-reads it when its
//	                    mtime or size changes
//
// Buckets of central.db:
//
//	meta        epoch (16 random hex characters made with the database)
//	records     record ID → the canonical manifest, its SHA-256, the stored
//	            receipt bytes, the station and the review; the bucket's
//	            sequence numbers records (server_seq)
//	byseq       server_seq (8 bytes big-endian) → record ID: Records and the
//	            admin page's newest records
//	bystation   station ID, 0, server_seq → record ID
//	roster      SHA-256 of the normalised ID number → the student's row,
//	            the digest of the row as last imported, their roster seq,
//	            a tombstone flag and a review outcome, if any
//	rosterlog   roster seq → roster key; the bucket's sequence numbers the
//	            roster's changes. A student's older entry is deleted when
//	            they get a new one, so the feed lists each student once, at
//	            their newest change
//	reviews     station ID, 0, review seq → wire.Review; the bucket's
//	            sequence numbers reviews across all stations
//	heartbeats  station ID → the latest heartbeat and when it arrived
//
// # Records: exactly once
//
// CommitRecord (PUT /v1/records/{id}) checks the manifest, that its
// station is the token's, that both blobs are held and have the sizes the
// manifest gives, then in one transaction: a record already stored under
// the ID answers its stored receipt byte for byte when the manifest's
// SHA-256 is the same, and ErrConflict otherwise; a retake_of naming a
// record central holds must be of the same student; a new record gets the
// next server_seq and its receipt is stored with it. Record IDs are never
// reused or deleted.
//
// # Feeds and cursors
//
// Both feeds (GET /v1/roster, GET /v1/reviews) page by a cursor
// "EPOCH.SEQ". An empty cursor starts from the beginning; a cursor of
// another epoch (the database was replaced or restored) or past the newest
// change is cursor_gone (410); anything else that is not a cursor is
// bad_request (400). A page's next cursor is the last entry it holds, or,
// on the last page, the feed's newest sequence number, so a station with
// nothing to learn still moves past other stations' review events.
//
// # Roster imports and review outcomes
//
// ImportRoster replaces the roster with a CSV file (kiosk/roster's format
// and decoder); a file with any row error is refused whole. New and
// changed rows (by a digest of the row) get a new roster seq, unchanged
// ones keep theirs, students no longer listed get a delete entry (a
// tombstone that keeps the ID number, so a station can key it). Rows are
// written in transactions of at most 10,000 students; an import stopped
// half-way is completed by importing the file again.
//
// A review outcome (Review, POST /v1/admin/reviews, the admin page) is
// kept once per record, queued on the record's station's feed with the
// record's receipt, and, when the student is on central's roster, sets
// their status (approved, or rejected with the reason) with a new roster
// seq. That status outlives later imports of the file until an import
// changes the student's status column: the file's status is then newer
// knowledge than the review.
//
// # HTTP
//
// Handler serves the routes of docs/sync-protocol.md plus the admin page
// (GET /admin/, GET /admin/photo/{record_id}, POST /admin/review,
// POST /admin/roster). Every error is a JSON wire.Error with the
// protocol's status and code; a wrong method is 405 with Allow, an unknown
// path 404, a path with ".", ".." or empty segments (also when escaped)
// 400. Bodies are read through http.MaxBytesReader at the protocol's
// limits (413 too_large); a roster upload may be 64 MiB. A blob PUT
// without Content-Length is 400 bad_request (the protocol has no code for
// 411), one declaring more than MaxBlobBytes is 413 before a byte is read.
// A feed's limit above its maximum is lowered to it; one that is not a
// positive number is 400. The admin page's forms answer a refusal with
// the page and the message on top, at the status the API would give, and
// a success with 303 back to /admin/. No transaction is open while a body
// is read or a response written. The caller runs http.Server with
// ReadHeaderTimeout and TLS (TLSConfig).
//
// # Authentication
//
// Stations send their token as a Bearer token; central compares its
// SHA-256, in constant time, with the stations file. A token speaks for
// one station: records, heartbeats and feeds of other stations are
// forbidden (403). The admin endpoints take the admin token as a Bearer
// token or as the password of Basic authentication with user "admin" (a
// browser opens /admin/ so); a station's token there is forbidden. Admin
// POSTs from a browser must be same-origin (CSRF). When the TLS listener
// verified a client certificate (TLSConfig with a client CA), its
// CommonName or one of its DNS names must also be the token's station.
package central
