package queue

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Check verifies the store without changing it: bbolt's own consistency
// check of queue.db, then the blobs of up to sample of the newest records
// that still have them, decrypted and hashed. It returns one line per
// problem found; an error means the check itself could not run.
func (q *Queue) Check(sample int) ([]string, error) {
	var problems []string
	err := q.db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			problems = append(problems, "queue.db: "+err.Error())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("check: %w", err)
	}
	recs, err := q.List("", 1<<30)
	if err != nil {
		return problems, fmt.Errorf("check: %w", err)
	}
	checked := 0
	for i := len(recs) - 1; i >= 0 && checked < sample; i-- {
		r := recs[i]
		if r.Purged() {
			continue
		}
		checked++
		for _, ref := range []BlobRef{r.Photo, r.Original} {
			if _, err := q.Blob(ref); err != nil {
				problems = append(problems, fmt.Sprintf("record %s: %v", r.ID, err))
			}
		}
	}
	return problems, nil
}
