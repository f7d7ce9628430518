package queue_test

import (
	"testing"

	"kioskd/kiosk/queue"
)

func TestNewest(t *testing.T) {
	q := openQueue(t, t.TempDir(), queue.Options{})
	if rs, err := q.Newest(5); err != nil || len(rs) != 0 {
		t.Fatalf("Newest on an empty queue = %d records, %v", len(rs), err)
	}
	var ids []string
	for _, id := range []string{"11010519491231002X", "110105194912310029", "11010519491231002X"} {
		r, _, _ := commit(t, q, id)
		ids = append(ids, r.ID)
	}
	rs, err := q.Newest(2)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].ID != ids[2] || rs[1].ID != ids[1] {
		got := []string{}
		for _, r := range rs {
			got = append(got, r.ID)
		}
		t.Errorf("Newest(2) = %v; want %v, %v (newest first)", got, ids[2], ids[1])
	}
	if rs, _ := q.Newest(10); len(rs) != 3 {
		t.Errorf("Newest(10) = %d records; want all 3", len(rs))
	}
}
