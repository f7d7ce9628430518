// Package queue is the station's durable, encrypted record queue: every
// capture the operator was told is "saved" lives here until central has it,
// and a while after.
//
// # On disk
//
//	dir/queue.db        bbolt: records (JSON, keyed by their UUIDv7, so key
//	                    order is commit order), a state index, and meta
//	                    (schema version, key fingerprint)
//	dir/queue.key       32 random bytes, mode 0600, made at first start
//	                    (Options.KeyFile can put it elsewhere)
//	dir/blobs/<sha256>  each photo and original frame, AES-256-GCM encrypted,
//	                    named by the SHA-256 of its plaintext
//
// The national ID number and the name are stored only encrypted; records
// carry a masked form for screens (3301**********123X) and a keyed hash
// (StudentKey) for lookups. Keys for blobs, fields and the student hash are
// derived from queue.key with HMAC-SHA256, one per purpose. Blob files carry
// their plaintext hash in the GCM additional data, so a changed byte or a
// file copied over another's name fails with ErrCorrupt.
//
// What this protects: a copy of queue.db or of the blobs (a backup, a
// support bundle, a file grabbed by mistake) shows no ID number, name or
// photo. With the key beside the data it does not protect a stolen disk;
// that is full-disk encryption's job, or keep the key on other storage.
//
// # Saving a capture
//
// Commit writes each blob to a temp file and fsyncs it (the photo and the
// original in parallel), renames it to its hash and fsyncs the folder; then
// ONE bbolt transaction makes the record's ID and stores the record with its
// state index entry. A crash before that commit leaves no record (and maybe
// orphan blobs, which Reconcile removes); after it, a whole record. Below
// Options.MinFree of free space Commit refuses with ErrDiskFull; everything
// else keeps working so the queue can drain.
//
// # Record lifecycle
//
//	            Commit
//	              │
//	              ▼
//	  ┌──────► queued ◄────────────── Unpark ──────┐
//	  │           │                                 │
//	  │ MarkFailed│ MarkUploading                   │
//	  │ (retry)   ▼                                 │
//	  └────── uploading ───────── Park(reason) ──► parked
//	              │   ╲          (queued too; and   (a permanent error, or
//	              │    ╲          Reconcile for a    a blob Reconcile found
//	              │     ╲         damaged blob)      missing or corrupt)
//	              │      ╲ ApplyReviews with the review's receipt
//	              │       ╲ (queued, uploading or parked: the upload's
//	              │        ╲ answer was lost, central holds the record)
//	              │ MarkAccepted(receipt) ╲
//	              ▼                        ▼
//	          accepted ──── MarkRejected(reason) ──► rejected
//	              │         or ApplyReviews          (a retake is due; the new
//	              │ MarkApproved                      record's RetakeOf names it)
//	              │ or ApplyReviews
//	              ▼
//	          approved
//
//	Purge: once AcceptedAt (accepted, approved or rejected) is older than the
//	retention window, the local blobs and the sealed identity are deleted and
//	PurgedAt is set; the record, its state and its receipt stay.
//
// Every transition is its own transaction and is checked: anything not drawn
// above is a *TransitionError (errors.Is ErrIllegalTransition). Repeating
// MarkAccepted with the same receipt, MarkApproved, or MarkRejected with the
// same reason is a no-op, so replayed server answers are harmless. Open moves
// records left in uploading by a crash back to queued.
//
// # Review outcomes
//
// ApplyReviews takes one page of central's review feed and applies it with
// the feed's new cursor in ONE transaction (Cursor reads it back), so the
// cursor never passes an outcome that was not applied and a page applied
// twice changes nothing. A review of a queued, uploading or parked record
// carries the receipt its lost upload answer would have (the caller checks
// it against the record's manifest and passes it only then): the record
// takes it and AcceptedAt, then the outcome (the shortcut drawn above; a
// later MarkAccepted with the same receipt is then a no-op). A parked
// record is settled too: whatever went wrong here since, central holds its
// copy. Reviews of unknown records, of waiting records without a receipt,
// or contradicting one already applied, are skipped and reported, never an
// error that would hold the cursor back forever.
// MarkExported notes a record's copy on a USB bundle (ExportedAt) without
// changing its state.
//
// # Start-up
//
// Open takes bbolt's file lock with a timeout (ErrLocked when another kioskd
// holds it), runs bbolt's consistency check, checks queue.key (mode, size,
// and that it is the key the database was written with), and refuses a
// database with a newer schema version. Reconcile then verifies every blob,
// marks and reports (never drops) records whose blobs are missing or
// corrupt, repairs the state index, and removes temp files and unreferenced
// blobs older than Options.OrphanGrace.
package queue
