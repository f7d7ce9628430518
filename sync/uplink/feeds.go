package uplink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"kioskd/kiosk/queue"
	"kioskd/kiosk/roster"
	"kioskd/sync/wire"
)

// feeds reads the review feed, then the roster feed. A failure of either
// is handled as the protocol's error table says (backoff, blocked, or
// logged until the next turn).
func (w *Worker) feeds(ctx context.Context) {
	if err := w.syncReviews(ctx); err != nil && !w.feedFailed(ctx, "reviews", err) {
		return
	}
	if w.ro == nil || !w.ready() {
		return
	}
	if err := w.syncRoster(ctx); err != nil {
		w.feedFailed(ctx, "roster", err)
	}
}

// feedFailed handles a feed's error and reports whether other requests
// may still be made now.
func (w *Worker) feedFailed(ctx context.Context, feed string, err error) bool {
	switch c := classify(ctx, err); c {
	case classStopped:
		return false
	case classTransient, classBlocked:
		w.failed(err, c, retryAfter(err))
		return false
	default:
		w.log.Warn("feed failed", "feed", feed, "err", err)
		w.setLastError(err)
		return true
	}
}

// cursorRefused reports whether central answered a feed request with 410
// (the cursor is gone) or 400 (it cannot read the cursor: a station kept
// it from another central, or a disk error changed it). Either way the
// feed starts again from an empty cursor; replaying it changes nothing.
func cursorRefused(ctx context.Context, err error) bool {
	if classify(ctx, err) == classGone {
		return true
	}
	var se *StatusError
	return errors.As(err, &se) && se.Status == http.StatusBadRequest
}

// syncReviews reads the review feed from the stored cursor to its end.
// For each page it first sets the roster's local state of each reviewed
// student (idempotent), then applies the page and its cursor in one queue
// transaction. 410 restarts the feed from an empty cursor (outcomes
// already applied are no-ops).
func (w *Worker) syncReviews(ctx context.Context) error {
	cursor, err := w.q.Cursor(reviewsFeed)
	if err != nil {
		return err
	}
	restarted := false
	for {
		page, err := w.c.reviews(ctx, cursor)
		if cursorRefused(ctx, err) && !restarted && cursor != "" {
			w.log.Info("review feed restarts from the beginning", "reason", "cursor gone")
			cursor, restarted = "", true
			continue
		}
		if err != nil {
			return fmt.Errorf("review feed: %w", err)
		}
		w.succeeded()
		rs, err := w.checkReceipts(page.Reviews)
		if err != nil {
			return fmt.Errorf("review feed: %w", err)
		}
		if err := w.setLocal(page.Reviews, rs); err != nil {
			return fmt.Errorf("review feed: %w", err)
		}
		res, err := w.q.ApplyReviews(reviewsFeed, rs, page.Next)
		if err != nil {
			return fmt.Errorf("review feed: %w", err)
		}
		if res.Approved+res.Rejected > 0 {
			w.reviewed = true // the next heartbeat tells central at once
			w.log.Info("reviews applied", "approved", res.Approved, "rejected", res.Rejected, "unchanged", res.Unchanged)
		}
		if len(res.Skipped) > 0 {
			w.log.Warn("reviews skipped", "records", res.Skipped, "reason", "unknown here, parked, or contradicting an earlier outcome")
		}
		if !page.More {
			return nil
		}
		if page.Next == cursor {
			return fmt.Errorf("review feed: %w: more pages announced but the cursor did not move", errBadAnswer)
		}
		cursor = page.Next
	}
}

// checkReceipts turns a page of reviews into the queue's, keeping a
// review's receipt only when it matches the record's own manifest: a
// review settles a record still waiting for its upload's answer (queued,
// uploading, or parked since) only with the receipt an upload would have
// had to match.
func (w *Worker) checkReceipts(reviews []wire.Review) ([]queue.Review, error) {
	rs := make([]queue.Review, len(reviews))
	for i, rv := range reviews {
		rs[i] = queue.Review{RecordID: rv.RecordID, Outcome: rv.Outcome, Reason: rv.Reason}
		r, err := w.q.Get(rv.RecordID)
		if errors.Is(err, queue.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		switch r.State {
		case queue.StateQueued, queue.StateUploading, queue.StateParked:
		default:
			continue // accepted or reviewed: the receipt is not needed
		}
		m, err := manifestOf(w.q, r)
		if err != nil {
			w.log.Warn("review's receipt not checked", "record", r.ID, "err", err)
			continue
		}
		sum, err := m.SHA256()
		if err != nil || !rv.Receipt.Matches(&m, sum) {
			w.log.Warn("review's receipt does not match the record: the record stays as it is", "record", r.ID)
			continue
		}
		rs[i].Receipt = rv.Receipt.String()
	}
	return rs, nil
}

// setLocal sets the roster's local state of the student of each review
// that the queue will apply (so a rejected student is offered a free
// retake). A review the queue would skip sets nothing. checked are the
// reviews as checkReceipts made them.
func (w *Worker) setLocal(reviews []wire.Review, checked []queue.Review) error {
	if w.ro == nil {
		return nil
	}
	for i, rv := range reviews {
		r, err := w.q.Get(rv.RecordID)
		if errors.Is(err, queue.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		st := roster.StatusApproved
		if rv.Outcome == wire.OutcomeRejected {
			st = roster.StatusRejected
		}
		waiting := r.State == queue.StateQueued || r.State == queue.StateUploading || r.State == queue.StateParked
		switch {
		case waiting && checked[i].Receipt == "",
			r.State == queue.StateApproved && st != roster.StatusApproved,
			r.State == queue.StateRejected && st != roster.StatusRejected:
			continue
		}
		id, err := w.q.Identity(r)
		if err != nil {
			// Purged long after its review, or damaged: the roster entry
			// cannot be found without the ID number.
			w.log.Warn("review not shown on the roster", "record", r.ID, "err", err)
			continue
		}
		l := roster.Local{State: st, RecordID: r.ID, At: rv.ReviewedAt}
		if st == roster.StatusRejected {
			l.Reason = rv.Reason
		}
		err = w.ro.SetLocal(w.ro.Key(id.IDNumber), l)
		if errors.Is(err, roster.ErrNotFound) {
			continue // not on this station's roster (captured by collection code, or removed)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// rosterStatus maps the feed's status words to the roster's.
func rosterStatus(word string) roster.Status {
	switch word {
	case "", "eligible":
		return roster.StatusEligible
	case "collected_online":
		return roster.StatusCollectedOnline
	case "approved":
		return roster.StatusApproved
	case "rejected":
		return roster.StatusRejected
	}
	return roster.Status(word) // unknown: the roster skips and counts the row
}

func rosterRow(s wire.RosterStudent) roster.Row {
	return roster.Row{IDNumber: s.IDNumber, Name: s.Name, StudentNumber: s.StudentNumber, School: s.School,
		Major: s.Major, GraduationYear: s.GraduationYear, Status: rosterStatus(s.Status), Reason: s.Reason, Code: s.Code}
}

func normID(id string) string { return strings.ToUpper(strings.TrimSpace(id)) }

// syncRoster reads the roster feed from the stored cursor: each page is
// applied with its cursor in one transaction. No cursor, or 410, means a
// full reload.
func (w *Worker) syncRoster(ctx context.Context) error {
	cursor, err := w.ro.Cursor()
	if err != nil {
		return err
	}
	if cursor == "" {
		return w.reloadRoster(ctx)
	}
	for {
		page, err := w.c.roster(ctx, cursor)
		if cursorRefused(ctx, err) {
			w.log.Info("roster feed reloads", "reason", "cursor gone or refused")
			return w.reloadRoster(ctx)
		}
		if err != nil {
			return fmt.Errorf("roster feed: %w", err)
		}
		w.succeeded()
		// Within a page each student appears once; should one appear
		// twice, the later change wins.
		var order []string
		last := map[string]wire.RosterChange{}
		for _, ch := range page.Changes {
			id := normID(ch.Student.IDNumber)
			if _, seen := last[id]; !seen {
				order = append(order, id)
			}
			last[id] = ch
		}
		var upserts []roster.Row
		var removed []string
		for _, id := range order {
			if ch := last[id]; ch.Op == wire.OpDelete {
				removed = append(removed, ch.Student.IDNumber)
			} else {
				upserts = append(upserts, rosterRow(ch.Student))
			}
		}
		res, err := w.ro.ApplyChanges(upserts, removed, page.Next)
		if err != nil {
			return fmt.Errorf("roster feed: %w", err)
		}
		if res.Skipped > 0 {
			w.log.Warn("roster feed rows skipped", "rows", res.Skipped)
		}
		if !page.More {
			return nil
		}
		if page.Next == cursor {
			return fmt.Errorf("roster feed: %w: more pages announced but the cursor did not move", errBadAnswer)
		}
		cursor = page.Next
	}
}

// reloadRoster reads the whole roster feed from an empty cursor, applies
// its changes in order, and replaces the roster with the result, storing
// the last cursor with the last rows.
func (w *Worker) reloadRoster(ctx context.Context) error {
	start := time.Now()
	rows := map[string]wire.RosterStudent{}
	cursor := ""
	for pages := 0; ; pages++ {
		page, err := w.c.roster(ctx, cursor)
		if err != nil {
			return fmt.Errorf("roster reload: %w", err)
		}
		w.succeeded()
		for _, ch := range page.Changes {
			id := normID(ch.Student.IDNumber)
			if ch.Op == wire.OpDelete {
				delete(rows, id)
			} else {
				rows[id] = ch.Student
			}
		}
		if !page.More {
			if len(rows) == 0 {
				// A central without a roster (a fresh install, a failed
				// import) must not mark every local student removed: the
				// cursor is kept and the station's roster stays as it is.
				if _, err := w.ro.ApplyChanges(nil, nil, page.Next); err != nil {
					return fmt.Errorf("roster reload: %w", err)
				}
				w.log.Warn("central's roster is empty: the station's roster is kept")
				return nil
			}
			all := make([]roster.Row, 0, len(rows))
			for _, s := range rows {
				all = append(all, rosterRow(s))
			}
			res, err := w.ro.ReplaceAll(all, page.Next)
			if err != nil {
				return fmt.Errorf("roster reload: %w", err)
			}
			w.log.Info("roster reloaded from central", "students", len(all), "pages", pages+1,
				"added", res.Added, "updated", res.Updated, "removed", res.Removed, "skipped", res.Skipped,
				"elapsed", time.Since(start).Round(time.Millisecond))
			return nil
		}
		if page.Next == cursor {
			return fmt.Errorf("roster reload: %w: more pages announced but the cursor did not move", errBadAnswer)
		}
		cursor = page.Next
	}
}

// beat posts the heartbeat: counts by state, the oldest pending record's
// time, the cursors, the last error and the Status extras. No personal data.
func (w *Worker) beat(ctx context.Context) {
	hb, err := w.heartbeat()
	if err == nil {
		var body []byte
		if body, err = json.Marshal(hb); err == nil {
			err = w.c.heartbeat(ctx, w.station, body)
		}
	}
	if err != nil {
		w.feedFailed(ctx, "heartbeat", err)
		return
	}
	w.succeeded()
}

func (w *Worker) heartbeat() (wire.Heartbeat, error) {
	counts, err := w.q.Counts()
	if err != nil {
		return wire.Heartbeat{}, err
	}
	hb := wire.Heartbeat{StationID: w.station, SentAt: w.Now().UTC(), Queue: make(map[string]int, len(counts))}
	for s, n := range counts {
		hb.Queue[string(s)] = n
	}
	for _, s := range []queue.State{queue.StateQueued, queue.StateUploading} {
		r, ok, err := w.q.Oldest(s)
		if err != nil {
			return wire.Heartbeat{}, err
		}
		if ok && (hb.OldestPending.IsZero() || r.CreatedAt.Before(hb.OldestPending)) {
			hb.OldestPending = r.CreatedAt
		}
	}
	if hb.ReviewCursor, err = w.q.Cursor(reviewsFeed); err != nil {
		return wire.Heartbeat{}, err
	}
	if w.ro != nil {
		if hb.RosterCursor, err = w.ro.Cursor(); err != nil {
			return wire.Heartbeat{}, err
		}
	}
	if w.Status != nil {
		x := w.Status()
		hb.Version, hb.Camera, hb.DiskFree = shorten(x.Version, 120), shorten(x.Camera, 120), x.DiskFree
	}
	hb.LastError = shorten(w.Health().LastError, 1000)
	return hb, nil
}
