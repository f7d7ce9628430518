package queue_test

import (
	"errors"
	"slices"
	"testing"

	"kioskd/kiosk/queue"
)

type op struct {
	name string
	do   func(q *queue.Queue, id string) error
}

var (
	opUp      = op{"MarkUploading", func(q *queue.Queue, id string) error { return q.MarkUploading(id) }}
	opFail    = op{"MarkFailed", func(q *queue.Queue, id string) error { return q.MarkFailed(id, "503 from central") }}
	opAccept  = op{"MarkAccepted", func(q *queue.Queue, id string) error { return q.MarkAccepted(id, "rcpt-1") }}
	opAccept2 = op{"MarkAccepted(other receipt)", func(q *queue.Queue, id string) error { return q.MarkAccepted(id, "rcpt-2") }}
	opApprove = op{"MarkApproved", func(q *queue.Queue, id string) error { return q.MarkApproved(id) }}
	opReject  = op{"MarkRejected", func(q *queue.Queue, id string) error { return q.MarkRejected(id, "背景不均匀") }}
	opReject2 = op{"MarkRejected(other reason)", func(q *queue.Queue, id string) error { return q.MarkRejected(id, "闭眼") }}
	opPark    = op{"Park", func(q *queue.Queue, id string) error { return q.Park(id, "422 manifest invalid") }}
	opUnpark  = op{"Unpark", func(q *queue.Queue, id string) error { return q.Unpark(id) }}
)

// paths reach each state from queued.
var paths = map[queue.State][]op{
	queue.StateQueued:    nil,
	queue.StateUploading: {opUp},
	queue.StateAccepted:  {opUp, opAccept},
	queue.StateApproved:  {opUp, opAccept, opApprove},
	queue.StateRejected:  {opUp, opAccept, opReject},
	queue.StateParked:    {opPark},
}

func TestTransitions(t *testing.T) {
	const illegal = queue.State("ILLEGAL")
	cases := []struct {
		from queue.State
		op   op
		want queue.State
	}{
		{queue.StateQueued, opUp, queue.StateUploading},
		{queue.StateQueued, opFail, illegal},
		{queue.StateQueued, opAccept, illegal},
		{queue.StateQueued, opApprove, illegal},
		{queue.StateQueued, opReject, illegal},
		{queue.StateQueued, opPark, queue.StateParked},
		{queue.StateQueued, opUnpark, illegal},

		{queue.StateUploading, opUp, illegal},
		{queue.StateUploading, opFail, queue.StateQueued},
		{queue.StateUploading, opAccept, queue.StateAccepted},
		{queue.StateUploading, opApprove, illegal},
		{queue.StateUploading, opReject, illegal},
		{queue.StateUploading, opPark, queue.StateParked},
		{queue.StateUploading, opUnpark, illegal},

		{queue.StateAccepted, opUp, illegal},
		{queue.StateAccepted, opFail, illegal},
		{queue.StateAccepted, opAccept, queue.StateAccepted}, // same receipt: no-op
		{queue.StateAccepted, opAccept2, illegal},
		{queue.StateAccepted, opApprove, queue.StateApproved},
		{queue.StateAccepted, opReject, queue.StateRejected},
		{queue.StateAccepted, opPark, illegal},
		{queue.StateAccepted, opUnpark, illegal},

		{queue.StateApproved, opUp, illegal},
		{queue.StateApproved, opAccept, queue.StateApproved}, // replayed receipt: no-op
		{queue.StateApproved, opApprove, queue.StateApproved},
		{queue.StateApproved, opReject, illegal},
		{queue.StateApproved, opPark, illegal},

		{queue.StateRejected, opUp, illegal},
		{queue.StateRejected, opAccept, queue.StateRejected},
		{queue.StateRejected, opApprove, illegal},
		{queue.StateRejected, opReject, queue.StateRejected},
		{queue.StateRejected, opReject2, illegal},
		{queue.StateRejected, opPark, illegal},

		{queue.StateParked, opUp, illegal},
		{queue.StateParked, opFail, illegal},
		{queue.StateParked, opAccept, illegal},
		{queue.StateParked, opApprove, illegal},
		{queue.StateParked, opPark, queue.StateParked}, // same reason: no-op
		{queue.StateParked, opUnpark, queue.StateQueued},
	}
	q := openQueue(t, t.TempDir(), queue.Options{Now: newClock().Now})
	for _, c := range cases {
		r, _, _ := commit(t, q, testIDNumber)
		for _, p := range paths[c.from] {
			if err := p.do(q, r.ID); err != nil {
				t.Fatalf("reaching %s: %s = %v", c.from, p.name, err)
			}
		}
		before, _ := q.Get(r.ID)
		if before.State != c.from {
			t.Fatalf("path to %s ended in %s", c.from, before.State)
		}
		err := c.op.do(q, r.ID)
		after, gerr := q.Get(r.ID)
		if gerr != nil {
			t.Fatal(gerr)
		}
		if c.want == illegal {
			var te *queue.TransitionError
			if !errors.Is(err, queue.ErrIllegalTransition) || !errors.As(err, &te) || te.From != c.from {
				t.Errorf("%s from %s = %v; want a TransitionError from %s", c.op.name, c.from, err, c.from)
			}
			if after.State != c.from || after.UpdatedAt != before.UpdatedAt {
				t.Errorf("refused %s from %s changed the record to %s", c.op.name, c.from, after.State)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s from %s = %v; want %s", c.op.name, c.from, err, c.want)
			continue
		}
		if after.State != c.want {
			t.Errorf("%s from %s: state %s; want %s", c.op.name, c.from, after.State, c.want)
		}
		// The state index follows the record.
		rs, err := q.Next(c.want, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(rs, func(x queue.Record) bool { return x.ID == r.ID }) {
			t.Errorf("%s from %s: Next(%s) does not list the record", c.op.name, c.from, c.want)
		}
		if c.from != c.want {
			old, _ := q.Next(c.from, 0)
			if slices.ContainsFunc(old, func(x queue.Record) bool { return x.ID == r.ID }) {
				t.Errorf("%s from %s: Next(%s) still lists the record", c.op.name, c.from, c.from)
			}
		}
	}
	counts, err := q.Counts()
	if err != nil {
		t.Fatal(err)
	}
	all, _ := q.List("", 0)
	total := 0
	byState := map[queue.State]int{}
	for _, r := range all {
		byState[r.State]++
	}
	for _, s := range queue.States {
		total += counts[s]
		if counts[s] != byState[s] {
			t.Errorf("Counts()[%s] = %d; the records say %d", s, counts[s], byState[s])
		}
	}
	if total != len(cases) {
		t.Errorf("Counts() total %d; want %d records", total, len(cases))
	}
}

func TestTransitionFields(t *testing.T) {
	clk := newClock()
	q := openQueue(t, t.TempDir(), queue.Options{Now: clk.Now})
	r, _, _ := commit(t, q, testIDNumber)
	steps := []op{opUp, opFail, opUp, opFail, opUp, opAccept, opReject}
	for _, s := range steps {
		if err := s.do(q, r.ID); err != nil {
			t.Fatalf("%s = %v", s.name, err)
		}
	}
	got, _ := q.Get(r.ID)
	if got.Attempts != 3 {
		t.Errorf("Attempts = %d; want 3", got.Attempts)
	}
	if got.Receipt != "rcpt-1" || got.AcceptedAt.IsZero() || got.LastError != "" {
		t.Errorf("after accept: Receipt %q AcceptedAt %v LastError %q; want rcpt-1, set, empty", got.Receipt, got.AcceptedAt, got.LastError)
	}
	if got.Reason != "背景不均匀" || got.ReviewedAt.IsZero() {
		t.Errorf("after reject: Reason %q ReviewedAt %v", got.Reason, got.ReviewedAt)
	}

	r2, _, _ := commit(t, q, testIDNumber)
	opUp.do(q, r2.ID)
	opFail.do(q, r2.ID)
	got2, _ := q.Get(r2.ID)
	if got2.LastError != "503 from central" || got2.State != queue.StateQueued {
		t.Errorf("after MarkFailed: %s %q; want queued with the error", got2.State, got2.LastError)
	}
	if err := q.MarkUploading("0190a3b2-7c4d-7e5f-8a6b-1c2d3e4f5a6b"); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("MarkUploading(unknown) = %v; want ErrNotFound", err)
	}
	for _, bad := range []func() error{
		func() error { return q.MarkAccepted(r2.ID, "") },
		func() error { return q.MarkRejected(r2.ID, "") },
		func() error { return q.Park(r2.ID, "") },
	} {
		if bad() == nil {
			t.Error("a transition without its receipt or reason = nil; want an error")
		}
	}
}

func TestQueries(t *testing.T) {
	q := openQueue(t, t.TempDir(), queue.Options{Now: newClock().Now})
	var ids []string
	for range 5 {
		r, _, _ := commit(t, q, testIDNumber)
		ids = append(ids, r.ID)
	}
	if !slices.IsSorted(ids) {
		t.Fatalf("IDs not increasing: %v", ids)
	}
	opUp.do(q, ids[1])
	opUp.do(q, ids[3])

	next, err := q.Next(queue.StateQueued, 2)
	if err != nil || len(next) != 2 || next[0].ID != ids[0] || next[1].ID != ids[2] {
		t.Errorf("Next(queued, 2) = %v, %v; want %s, %s", recIDs(next), err, ids[0], ids[2])
	}
	old, ok, err := q.Oldest(queue.StateUploading)
	if err != nil || !ok || old.ID != ids[1] {
		t.Errorf("Oldest(uploading) = %s, %v, %v; want %s", old.ID, ok, err, ids[1])
	}
	if _, ok, _ := q.Oldest(queue.StateApproved); ok {
		t.Error("Oldest(approved) found a record; want none")
	}
	page, err := q.List(ids[1], 2)
	if err != nil || len(page) != 2 || page[0].ID != ids[2] || page[1].ID != ids[3] {
		t.Errorf("List(after %s, 2) = %v, %v; want %v", ids[1], recIDs(page), err, ids[2:4])
	}
	counts, _ := q.Counts()
	if counts[queue.StateQueued] != 3 || counts[queue.StateUploading] != 2 || counts[queue.StateParked] != 0 {
		t.Errorf("Counts() = %v; want 3 queued, 2 uploading", counts)
	}
	if _, err := q.Next("nonsense", 1); err == nil {
		t.Error("Next(unknown state) = nil error")
	}
}

func TestOpenRequeuesInterruptedUploads(t *testing.T) {
	dir := t.TempDir()
	q := openQueue(t, dir, queue.Options{})
	r, _, _ := commit(t, q, testIDNumber)
	opUp.do(q, r.ID)
	q.Close()
	q2 := openQueue(t, dir, queue.Options{})
	got, _ := q2.Get(r.ID)
	if got.State != queue.StateQueued || got.Attempts != 1 || got.LastError == "" {
		t.Errorf("after reopen: %s attempts %d lastError %q; want queued, 1, a reason", got.State, got.Attempts, got.LastError)
	}
}

func recIDs(rs []queue.Record) []string {
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	return ids
}
