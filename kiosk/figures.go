package kiosk

import (
	"slices"
	"strings"
	"time"

	"kioskd/kiosk/photo"
	"kioskd/kiosk/queue"
)

// QueueStatus is the record queue as the operator's screen shows it.
type QueueStatus struct {
	// Counts are the records per sync state.
	Counts map[queue.State]int `json:"counts"`
	// OldestQueued is when the oldest record still waiting for upload was
	// saved; zero when none waits.
	OldestQueued time.Time `json:"oldest_queued,omitzero"`
	// LastSync is the last successful exchange with central; zero until
	// the sync has succeeded once (or without a sync).
	LastSync time.Time `json:"last_sync,omitzero"`
	// Sync is the sync with central's health; nil when the station has
	// no central configured.
	Sync *SyncHealth `json:"sync,omitempty"`
	// Recent are the records the operator's list shows, newest first:
	// the RecentRecords newest, and every parked record (up to
	// MaxParkedShown), which waits for the operator however old it is.
	// The ID number is masked.
	Recent []RecordView `json:"recent,omitempty"`
	Error  string       `json:"error,omitempty"`
}

// RecentRecords is how many of the newest records the queue panel lists;
// MaxParkedShown bounds the parked records listed besides them.
const (
	RecentRecords  = 12
	MaxParkedShown = 50
)

// RecordView is one record in the operator's list: where it stands with
// central and why, never the student's full ID number or name.
type RecordView struct {
	ID        string      `json:"id"`
	CreatedAt time.Time   `json:"created_at"`
	Masked    string      `json:"masked"`
	State     queue.State `json:"state"`
	// Reason is why a record was rejected by review or parked;
	// LastError the last failed upload attempt's error.
	Reason    string `json:"reason,omitempty"`
	LastError string `json:"last_error,omitempty"`
	Attempts  int    `json:"attempts"`
	Retake    bool   `json:"retake,omitempty"`
	Exported  bool   `json:"exported,omitempty"`
}

// SyncHealth is the sync with central as the operator sees it.
type SyncHealth struct {
	// State is idle (everything sent), syncing, offline (central
	// unreachable or failing: retrying) or blocked (central refuses the
	// station's token: the technician must act).
	State       string    `json:"state"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	NextRetry   time.Time `json:"next_retry,omitzero"`
}

// SyncReporter reports the sync's health (the uplink worker, adapted by
// the program's wiring).
type SyncReporter interface {
	SyncHealth() SyncHealth
}

// QueueReader is what the queue panel needs of the record queue
// (*queue.Queue).
type QueueReader interface {
	Counts() (map[queue.State]int, error)
	Oldest(s queue.State) (queue.Record, bool, error)
	Newest(n int) ([]queue.Record, error)
	Next(s queue.State, n int) ([]queue.Record, error)
}

// Figures are today's numbers at the booth.
type Figures struct {
	Day string `json:"day"` // local date, 2006-01-02
	// Saved is how many students were saved today; PerHour is Saved over
	// the hours since the first student of the day was identified (at
	// least one).
	Saved   int     `json:"saved"`
	PerHour float64 `json:"per_hour"`
	// MedianSeconds is the median time from identification to saved.
	MedianSeconds float64 `json:"median_seconds"`
	// Captures and Retakes count today's reviewed captures and retakes;
	// RetakesByCheck says which check failed on the capture that was
	// retaken ("none" when every check passed: the student's own wish).
	Captures       int            `json:"captures"`
	Retakes        int            `json:"retakes"`
	RetakesByCheck map[string]int `json:"retakes_by_check"`
}

// figures accumulates today's numbers; guarded by Station.mu.
type figures struct {
	day        string
	first      time.Time
	durations  []time.Duration
	captures   int
	retakes    map[string]int
	identified time.Time // of the session in progress
}

func (f *figures) roll(now time.Time) {
	if d := now.Format(time.DateOnly); d != f.day {
		*f = figures{day: d, retakes: make(map[string]int)}
	}
}

func (f *figures) identify(now time.Time) {
	f.roll(now)
	if f.first.IsZero() {
		f.first = now
	}
	f.identified = now
}

func (f *figures) saved(now time.Time) {
	f.roll(now)
	if !f.identified.IsZero() {
		f.durations = append(f.durations, now.Sub(f.identified))
		f.identified = time.Time{}
	}
}

func (f *figures) captured(now time.Time) {
	f.roll(now)
	f.captures++
}

// retaken counts a retake under the first check that failed or warned on
// the retaken capture's frame.
func (f *figures) retaken(now time.Time, r *photo.Report) {
	f.roll(now)
	check := "none"
	if r != nil {
		for _, c := range r.InputChecks {
			if c.Status == photo.StatusFail || c.Status == photo.StatusWarn {
				check = string(c.ID)
				break
			}
		}
	}
	f.retakes[check]++
}

func (f *figures) view(now time.Time) Figures {
	f.roll(now)
	out := Figures{Day: f.day, Saved: len(f.durations), Captures: f.captures, RetakesByCheck: make(map[string]int)}
	for k, v := range f.retakes {
		out.RetakesByCheck[k] = v
		out.Retakes += v
	}
	if n := len(f.durations); n > 0 {
		d := slices.Clone(f.durations)
		slices.Sort(d)
		med := d[n/2]
		if n%2 == 0 {
			med = (d[n/2-1] + d[n/2]) / 2
		}
		out.MedianSeconds = med.Seconds()
		// Over at least an hour, so the first students of the day do
		// not read as a rate of 60 an hour.
		out.PerHour = float64(n) / max(now.Sub(f.first).Hours(), 1)
	}
	return out
}

// Figures returns today's numbers.
func (s *Station) Figures() Figures {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.figs.view(time.Now())
}

// QueueStatus reads the record queue's counts and its oldest waiting
// record, when the station has a queue.
func (s *Station) QueueStatus() (QueueStatus, bool) {
	qr, ok := s.Records.(QueueReader)
	if !ok || qr == nil {
		return QueueStatus{}, false
	}
	st := QueueStatus{}
	counts, err := qr.Counts()
	if err != nil {
		st.Error = "queue unreadable"
		s.logger.Warn("read queue counts", "err", err)
		return st, true
	}
	st.Counts = counts
	if r, ok, err := qr.Oldest(queue.StateQueued); err == nil && ok {
		st.OldestQueued = r.CreatedAt
	}
	if rs, err := qr.Newest(RecentRecords); err == nil {
		if parked, err := qr.Next(queue.StateParked, MaxParkedShown); err == nil {
			for _, p := range parked {
				if !slices.ContainsFunc(rs, func(r queue.Record) bool { return r.ID == p.ID }) {
					rs = append(rs, p)
				}
			}
			// IDs are UUIDv7: their order is the order of saving.
			slices.SortFunc(rs, func(a, b queue.Record) int { return strings.Compare(b.ID, a.ID) })
		}
		for _, r := range rs {
			st.Recent = append(st.Recent, RecordView{ID: r.ID, CreatedAt: r.CreatedAt, Masked: r.Masked,
				State: r.State, Reason: r.Reason, LastError: r.LastError, Attempts: r.Attempts,
				Retake: r.RetakeOf != "", Exported: !r.ExportedAt.IsZero()})
		}
	}
	if s.Sync != nil {
		h := s.Sync.SyncHealth()
		st.Sync = &h
		st.LastSync = h.LastSuccess
	}
	return st, true
}
