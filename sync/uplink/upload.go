package uplink

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"kioskd/kiosk/queue"
	"kioskd/sync/wire"
)

// parkError is a permanent failure of one record, with the reason shown to
// the operator (zh-CN first, English second; no personal data).
type parkError struct{ reason string }

func (e *parkError) Error() string { return e.reason }

func park(format string, args ...any) error { return &parkError{reason: fmt.Sprintf(format, args...)} }

// errPaused ends an upload between two requests once another upload of
// the same drain has failed: the worker is about to wait.
var errPaused = errors.New("paused: another upload failed and the worker waits before the next request")

// step is checked before every request of an upload.
func (w *Worker) step() error {
	if w.paused.Load() {
		return errPaused
	}
	return nil
}

// result is how one record's upload ended.
type result struct {
	id    string
	class class // meaningful when err != nil
	err   error // nil: accepted
	bytes uint64
}

// drain sends queued records, oldest first, Parallel at once, until none
// is left, a transient or blocked failure starts a wait, or ctx is done.
// It waits for every upload it started and returns how many records it
// settled (accepted or parked).
func (w *Worker) drain(ctx context.Context) (moved int) {
	w.paused.Store(false)
	w.retry = false
	results := make(chan result)
	inflight := 0
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := false
	var fail error // the first transient or blocked failure
	failClass := classTransient
	retryLater := time.Duration(0)
	for {
		if !stop && !w.paused.Load() && ctx.Err() == nil && inflight < w.Parallel {
			recs, err := w.q.Next(queue.StateQueued, w.Parallel-inflight)
			if err != nil {
				w.log.Error("read the queue", "err", err)
				stop = true
			}
			started := 0
			for _, r := range recs {
				if w.paused.Load() {
					break // an upload in flight has just failed; these stay queued
				}
				if reason := unsendable(r, w.station); reason != "" {
					if w.parkRecord(r.ID, reason) {
						moved++
						continue
					}
					stop = true
					break
				}
				if err := w.q.MarkUploading(r.ID); err != nil {
					w.log.Error("mark record uploading", "record", r.ID, "err", err)
					stop = true
					break
				}
				w.count(func(h *Health) { h.Attempts++ })
				w.setState(StateSyncing)
				inflight++
				started++
				// Each upload goroutine ends when its record is settled
				// (or ctx is done); drain receives every result and waits.
				wg.Go(func() { results <- w.upload(ctx, r) })
			}
			if len(recs) > 0 && started == 0 && !stop {
				continue // all were parked: look for more
			}
		}
		if inflight == 0 {
			break
		}
		res := <-results
		inflight--
		w.count(func(h *Health) { h.UploadedBytes += res.bytes })
		switch {
		case res.err == nil:
			moved++
			w.count(func(h *Health) { h.Uploaded++ })
			w.succeeded() // the streak resets only when the whole pass succeeds (below)
		case res.class == classStopped:
			stop = true
		case res.class == classPermanent:
			moved++
			w.count(func(h *Health) { h.Failures++ })
		default:
			w.paused.Store(true)
			w.count(func(h *Health) { h.Failures++ })
			stop = true
			if fail == nil || res.class == classBlocked {
				fail, failClass = res.err, res.class
			}
			retryLater = max(retryLater, retryAfter(res.err))
		}
	}
	switch {
	case fail != nil:
		w.failed(fail, failClass, retryLater)
	case ctx.Err() == nil && !stop:
		w.recovered()
		w.setState(StateIdle)
	}
	return moved
}

// unsendable says why a queued record cannot be sent at all; "" when it can.
func unsendable(r queue.Record, station string) string {
	switch {
	case r.Purged():
		return "本地照片已清除，无法上传 / the local copies were purged: cannot upload"
	case r.Damage != "":
		return "本地照片损坏，无法上传 / a local blob is damaged: " + r.Damage
	case r.StationID != station:
		return fmt.Sprintf("记录属于另一工作站 / the record belongs to station %q, this is %q", r.StationID, station)
	}
	return ""
}

func (w *Worker) parkRecord(id, reason string) bool {
	if err := w.q.Park(id, reason); err != nil {
		w.log.Error("park record", "record", id, "err", err)
		return false
	}
	w.log.Warn("record parked", "record", id, "reason", reason)
	return true
}

// upload sends one record (already marked uploading) and settles it in
// the queue: accepted, parked, or back to queued with the error.
func (w *Worker) upload(ctx context.Context, r queue.Record) result {
	res := result{id: r.ID}
	err := w.send(ctx, r, &res.bytes)
	if err == nil {
		return res
	}
	res.err, res.class = err, classify(ctx, err)
	if res.class == classTransient || res.class == classBlocked {
		// Pause the other uploads now, not when drain reads this result:
		// the requeue below waits for the queue's fsync, and central
		// asked for quiet (a 503, a 429's Retry-After) before that.
		w.paused.Store(true)
	}
	switch res.class {
	case classStopped:
		if errors.Is(err, errPaused) {
			w.requeue(r.ID, "等待中心恢复 / waiting for central")
			break
		}
		w.requeue(r.ID, "上传因停止而中断 / upload interrupted by a stop")
	case classPermanent, classGone:
		res.class = classPermanent
		reason := err.Error()
		var pe *parkError
		if !errors.As(err, &pe) {
			reason = "中心拒收 / central refused: " + shorten(err.Error(), 300)
		}
		w.parkRecord(r.ID, reason)
	default:
		w.requeue(r.ID, shorten(err.Error(), 300))
	}
	return res
}

func (w *Worker) requeue(id, lastError string) {
	if err := w.q.MarkFailed(id, lastError); err != nil && !errors.Is(err, queue.ErrIllegalTransition) {
		// An illegal transition means a review settled the record
		// meanwhile (it took the receipt): nothing to undo.
		w.log.Error("requeue record", "record", id, "err", err)
	}
}

// blobData is a blob's reference and its bytes.
type blobData struct {
	ref  queue.BlobRef
	data []byte
}

// send uploads a record's blobs and manifest and marks it accepted on a
// matching receipt. sent counts the bytes central took.
func (w *Worker) send(ctx context.Context, r queue.Record, sent *uint64) error {
	m, photo, original, err := w.manifest(r)
	if err != nil {
		return err
	}
	canonical, err := m.Canonical()
	if err != nil {
		return park("记录无法编码 / the record cannot be encoded: %v", err)
	}
	sum := wire.SHA256(canonical)
	blobs := []blobData{{r.Photo, photo}, {r.Original, original}}
	for _, b := range blobs {
		if err := w.sendBlob(ctx, b.ref, b.data, true, sent); err != nil {
			return err
		}
	}
	if err := w.step(); err != nil {
		return err
	}
	rc, err := w.c.putManifest(ctx, r.ID, canonical)
	var se *StatusError
	if errors.As(err, &se) && se.Status == http.StatusPreconditionFailed {
		// Central lacks blobs it said it held (or lost them since):
		// upload what it lists, then the manifest once more.
		for _, missing := range se.Missing {
			i := slices.IndexFunc(blobs, func(b blobData) bool { return b.ref.SHA256 == missing })
			if i < 0 {
				return park("中心要求未知的文件 / central asks for a blob this record does not name: %s", shorten(missing, 64))
			}
			if err := w.sendBlob(ctx, blobs[i].ref, blobs[i].data, false, sent); err != nil {
				return err
			}
		}
		if err := w.step(); err != nil {
			return err
		}
		rc, err = w.c.putManifest(ctx, r.ID, canonical)
		if errors.As(err, &se) && se.Status == http.StatusPreconditionFailed {
			return fmt.Errorf("record %s: central still lacks its blobs after a second upload: %w", r.ID, errBadAnswer)
		}
	}
	if err != nil {
		return err
	}
	*sent += uint64(len(canonical))
	if !rc.Matches(&m, sum) {
		return fmt.Errorf("record %s: %w: the receipt does not match the manifest sent", r.ID, errBadAnswer)
	}
	if err := w.q.MarkAccepted(r.ID, rc.String()); err != nil {
		return fmt.Errorf("record %s accepted by central but not marked: %w", r.ID, err)
	}
	return nil
}

// sendBlob makes sure central holds one blob: HEAD first when head is set,
// then PUT. On 422 hash_mismatch the blob is read again from disk: if its
// bytes still hash to its name they are sent once more (the first copy was
// damaged on the way), else the record is parked; the same bytes are never
// sent twice.
func (w *Worker) sendBlob(ctx context.Context, ref queue.BlobRef, data []byte, head bool, sent *uint64) error {
	if err := w.step(); err != nil {
		return err
	}
	if head {
		has, err := w.c.hasBlob(ctx, ref.SHA256)
		if err != nil {
			return err
		}
		if has {
			return nil
		}
		if err := w.step(); err != nil {
			return err
		}
	}
	err := w.c.putBlob(ctx, ref.SHA256, data)
	if hashMismatch(err) {
		fresh, rerr := w.q.Blob(ref)
		if rerr != nil || wire.SHA256(fresh) != ref.SHA256 {
			return park("本地文件与其校验值不符 / blob %s does not match its SHA-256 on disk: %v", shorten(ref.SHA256, 12), rerr)
		}
		err = w.c.putBlob(ctx, ref.SHA256, fresh)
		if hashMismatch(err) {
			return park("中心两次校验失败 / central found blob %s damaged twice", shorten(ref.SHA256, 12))
		}
	}
	if err != nil {
		return err
	}
	*sent += uint64(len(data))
	return nil
}

func hashMismatch(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status == http.StatusUnprocessableEntity && se.Code == wire.CodeHashMismatch
}

func (w *Worker) manifest(r queue.Record) (wire.Manifest, []byte, []byte, error) {
	return Manifest(w.q, r)
}

// Manifest builds record r's manifest exactly as the worker sends it
// (every field mapped, the identity opened from the queue) and reads and
// verifies its photo and original. kioskd export uses it too, so a record
// carried on a USB bundle has the same canonical manifest, and so the same
// receipt, as its later upload. An error means the record cannot be sent
// as it is (its identity or a blob unreadable, a field central would
// refuse); the worker parks such a record.
func Manifest(q *queue.Queue, r queue.Record) (wire.Manifest, []byte, []byte, error) {
	m, err := manifestOf(q, r)
	if err != nil {
		return wire.Manifest{}, nil, nil, err
	}
	photo, err := q.Blob(r.Photo)
	if err != nil {
		return wire.Manifest{}, nil, nil, park("无法读取标准照 / the photo cannot be read: %s", blobProblem(err))
	}
	original, err := q.Blob(r.Original)
	if err != nil {
		return wire.Manifest{}, nil, nil, park("无法读取原始照片 / the original frame cannot be read: %s", blobProblem(err))
	}
	return m, photo, original, nil
}

// manifestOf builds record r's manifest without reading its blobs (their
// names and sizes are in the record): what a receipt is checked against.
func manifestOf(q *queue.Queue, r queue.Record) (wire.Manifest, error) {
	id, err := q.Identity(r)
	if err != nil {
		return wire.Manifest{}, park("无法读取学生身份 / the student's identity cannot be read: %v", err)
	}
	m := wire.Manifest{
		Schema:       wire.ManifestSchema,
		RecordID:     r.ID,
		StationID:    r.StationID,
		CapturedAt:   r.CreatedAt,
		Operator:     r.Operator,
		Student:      wire.Student{IDNumber: id.IDNumber, Name: id.Name},
		Spec:         r.Spec,
		Background:   r.Background,
		Fee:          wire.Fee{Yuan: r.Fee.Yuan, Method: r.Fee.Method, Receipt: r.Fee.Receipt},
		Consent:      wire.Consent{Version: r.Consent.Version, At: r.Consent.At},
		Measurements: r.Measurements,
		Report:       r.Report,
		Photo:        wire.Blob{SHA256: r.Photo.SHA256, Size: r.Photo.Size},
		Original:     wire.Blob{SHA256: r.Original.SHA256, Size: r.Original.Size},
		RetakeOf:     r.RetakeOf,
	}
	if err := m.Check(); err != nil {
		return wire.Manifest{}, park("记录不符合协议 / the record fails the protocol's checks: %v", err)
	}
	return m, nil
}

func blobProblem(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "missing"
	case errors.Is(err, queue.ErrCorrupt):
		return "corrupt"
	}
	return err.Error()
}

// shorten cuts s to at most n bytes on a rune boundary.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
