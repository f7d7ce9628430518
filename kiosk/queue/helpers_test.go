package queue_test

import (
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// editDB changes queue.db behind the queue's back (the queue must be closed).
func editDB(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

func setSchema(t *testing.T, path, v string) {
	editDB(t, path, func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte(v))
	})
}
