package kiosk_test

import (
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"kioskd/kiosk"
	"kioskd/kiosk/queue"
)

// TestQueuePanelListsParked: the panel lists the newest records and, however
// old, every parked one, newest first, with the ID number masked.
func TestQueuePanelListsParked(t *testing.T) {
	q, err := queue.Open(t.TempDir(), queue.Options{FreeSpace: func(string) (int64, error) { return 1 << 40, nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	blob := func() []byte {
		b := make([]byte, 1024)
		rand.Read(b)
		return b
	}
	var ids []string
	for i := range kiosk.RecentRecords + 3 {
		r, err := q.Commit(queue.NewRecord{StationID: "s", IDNumber: fmt.Sprintf("1101051990010100%02d", i), Spec: "chsi-graduation",
			Consent: queue.Consent{Version: "v", At: time.Now()}}, blob(), blob())
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	if err := q.Park(ids[0], "中心拒收 / central refused: 422 invalid"); err != nil {
		t.Fatal(err)
	}
	st := kiosk.NewStation(&loopSource{}, discard())
	st.Records = q
	qs, ok := st.QueueStatus()
	if !ok {
		t.Fatal("no queue status")
	}
	if len(qs.Recent) != kiosk.RecentRecords+1 {
		t.Fatalf("%d records listed; want the %d newest and the parked one", len(qs.Recent), kiosk.RecentRecords)
	}
	if qs.Recent[0].ID != ids[len(ids)-1] {
		t.Errorf("first listed %s; want the newest %s", qs.Recent[0].ID, ids[len(ids)-1])
	}
	last := qs.Recent[len(qs.Recent)-1]
	if last.ID != ids[0] || last.State != queue.StateParked || last.Reason == "" {
		t.Errorf("last listed %+v; want the oldest record, parked, with its reason", last)
	}
	for _, r := range qs.Recent {
		if r.Masked == "" || len(r.Masked) != 18 || r.Masked[4] != '*' {
			t.Errorf("record %s shows %q; want the masked ID number", r.ID, r.Masked)
		}
	}
}
