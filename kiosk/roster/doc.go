// Package roster is the station's copy of the student roster, how the
// booth identifies a student against it, and who may run the booth.
//
// # Identifying a student
//
// The operator types the national ID number and the name, or scans the
// student's collection code (采集码; a scanner types it like a keyboard).
// CheckIDNumber verifies the GB 11643 check character as typed (a lower-case
// x is accepted and stored as X; a legacy 15-digit number is refused with
// its own message). IdentifyByID and IdentifyByCode return a Match: the
// student with the ID number masked (3301**********123X, queue.Mask) and one
// State:
//
//	eligible          可以采集             photograph here
//	collected_online  已在线上完成采集     no photo here
//	captured_here     已在本站拍摄，待审核 pending review
//	approved          照片已审核通过       nothing to do
//	rejected          未通过审核，可免费重拍  Reason says why; the retake is free
//	not_on_roster     不在名单中           also for students a full re-import removed
//
// The state combines the roster's status (from the CSV file or central)
// with what the station knows itself (SetLocal, called by the capture flow
// after the queue commit and when a review outcome arrives):
//
//  1. removed from the roster → not_on_roster;
//  2. the roster says approved or collected_online → that (central is final);
//  3. the station has a local state → that, unless the roster says rejected
//     and that status is newer than the local state (a review outcome for
//     the station's own capture, come back through central);
//  4. otherwise the roster's status.
//
// So a stale re-import still saying "eligible" never undoes "captured here".
// Outside the collection window (Options.Window) both Identify methods
// refuse with a *WindowError before looking anything up ("逾期不再受理").
//
// # Storage
//
//	dir/roster.db   bbolt: students (HMAC of the ID number → compact JSON),
//	                codes (HMAC of the collection code → student key), meta
//	dir/queue.key   the station key file, shared with the queue (mode 0600)
//
// Keys derive from the station key with HMAC-SHA256 under the labels
// kioskd/roster/v1/{student,code,field,digest,key-id}, so they never equal
// the queue's keys. The ID number and the name are stored only AES-256-GCM
// sealed (bound to the student's key); the masked ID number, student
// number, school, major and year are in clear; collection codes are stored
// only as a keyed hash plus a masked form. No error, log line or printed
// Row holds a full ID number.
//
// # Importing
//
// Decode reads the CSV file (columns, encodings and limits in
// docs/roster.md) and reports row problems by line number; a file that is
// empty, has only a header, lacks a required column, is UTF-16, or has a line
// over MaxLineBytes is refused whole. Import writes rows in transactions of
// Options.BatchSize, in key order, then updates the code index in code
// order (two phases keep each transaction to neighbouring pages; unchanged
// rows re-check their code entry, so an import interrupted between the
// phases is repaired by the next). A row replaces the stored student with
// the same ID number; the station's local state is kept. Result counts
// added (new, or listed again after removal), updated, unchanged (same
// keyed digest of the row) and removed. Replace marks students absent from
// the file as removed (not deleted: their local state stays, and listing
// them again restores them); it removes nobody when the file had row
// errors (RemovalSkipped), since a row left out may be a student still on
// the roster.
//
// # Central's roster feed
//
// The uplink keeps the roster in step with central's feed (docs/sync-protocol.md).
// ApplyChanges applies one page of changes (upserts, and removals that only
// mark students removed) together with the feed's cursor, the code index
// and the active count in ONE transaction, so a page applied twice changes
// nothing. ReplaceAll is the full reload read from an empty cursor: a
// Replace import whose last transaction stores the cursor, so a crash
// part-way leaves the old cursor and the next sync reloads. Cursor reads
// the stored cursor. Rows with an invalid ID number or a status outside
// the feed's words are skipped, counted in Result.Skipped and logged
// without the number.
//
// Cells that start like a spreadsheet formula (= + - @) are flagged, not
// stripped: stored as text, reported in Decoded.Warnings, and written with
// a leading apostrophe by Export and EscapeCell.
//
// # Operators
//
// Operators sign in with an ID and a PIN of 6 to 12 digits. The operators
// file holds one "<id> <PIN hash> <display name>" per line; HashPIN makes
// the hash (PBKDF2-HMAC-SHA256, 600,000 iterations, random salt), which
// `kioskd operator` prints. SignIn answers a wrong ID and a wrong PIN the
// same way, after the same work.
package roster
