package bundle_test

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"

	"kioskd/sync/bundle"
	"kioskd/sync/wire"
)

// FuzzDecodeIndex feeds arbitrary bytes to the index decoder, which Open
// runs on a stick's bundle.json. It must never panic; what it accepts must
// name only files inside the bundle, within the limits, and survive a round
// trip. Seeds: testdata/fuzz/FuzzDecodeIndex.
func FuzzDecodeIndex(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		ix, err := bundle.DecodeIndex(b)
		if err != nil {
			return
		}
		if len(ix.Records) > bundle.MaxRecords || len(ix.Blobs) > 2*len(ix.Records) {
			t.Fatalf("accepted %d records and %d blobs", len(ix.Records), len(ix.Blobs))
		}
		if !wire.ValidStationID(ix.StationID) {
			t.Fatalf("accepted station %q", ix.StationID)
		}
		ids := map[string]bool{}
		for _, r := range ix.Records {
			if !wire.ValidRecordID(r.RecordID) || ids[r.RecordID] || r.File != bundle.RecordFile(r.RecordID) || !filepath.IsLocal(r.File) {
				t.Fatalf("accepted record entry %+v", r)
			}
			ids[r.RecordID] = true
		}
		sums := map[string]bool{}
		for _, bl := range ix.Blobs {
			if !wire.ValidSHA256(bl.SHA256) || sums[bl.SHA256] || bl.File != bundle.BlobFile(bl.SHA256) || !filepath.IsLocal(bl.File) || bl.Size <= 0 || bl.Size > wire.MaxBlobBytes {
				t.Fatalf("accepted blob entry %+v", bl)
			}
			sums[bl.SHA256] = true
		}
		enc, err := json.Marshal(ix)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := bundle.DecodeIndex(enc)
		if err != nil {
			t.Fatalf("re-encoded index refused: %v\n%s", err, enc)
		}
		if !reflect.DeepEqual(normal(ix), normal(again)) {
			t.Fatalf("round trip changed the index:\n%+v\n%+v", ix, again)
		}
	})
}

// normal makes nil and empty slices, and equal instants in different
// zones, compare equal.
func normal(ix bundle.Index) bundle.Index {
	ix.CreatedAt = ix.CreatedAt.UTC()
	if len(ix.Records) == 0 {
		ix.Records = nil
	}
	if len(ix.Blobs) == 0 {
		ix.Blobs = nil
	}
	return ix
}
