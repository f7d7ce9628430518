package queue

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Newest returns up to n of the most recently committed records, newest
// first: the operator's list of recent records and their sync states.
func (q *Queue) Newest(n int) ([]Record, error) {
	if n <= 0 {
		return nil, nil
	}
	var out []Record
	err := q.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketRecords).Cursor()
		for k, v := c.Last(); k != nil && len(out) < n; k, v = c.Prev() {
			r, err := DecodeRecord(v)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrCorrupt, err)
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("newest: %w", err)
	}
	return out, nil
}
