package queue_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"kioskd/kiosk/queue"
)

// FuzzDecodeRecord feeds arbitrary bytes to the decoder that reads every
// stored record. It must never panic; what it accepts must be a record
// whose blob references are safe file names, and must survive a round trip.
func FuzzDecodeRecord(f *testing.F) {
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":"0190a3b2-7c4d-7e5f-8a6b-1c2d3e4f5a6b","state":"queued"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := queue.DecodeRecord(b)
		if err != nil {
			return
		}
		if _, err := queue.ParseUUID(r.ID); err != nil {
			t.Fatalf("accepted a record with ID %q: %v", r.ID, err)
		}
		if !r.State.Valid() {
			t.Fatalf("accepted state %q", r.State)
		}
		for _, ref := range []queue.BlobRef{r.Photo, r.Original} {
			if len(ref.SHA256) != 64 {
				t.Fatalf("accepted blob reference %q", ref.SHA256)
			}
			for _, c := range ref.SHA256 {
				if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
					t.Fatalf("accepted blob reference %q, not a safe file name", ref.SHA256)
				}
			}
		}
		enc, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		r2, err := queue.DecodeRecord(enc)
		if err != nil {
			t.Fatalf("decode of re-encoded record: %v\n%s", err, enc)
		}
		if !reflect.DeepEqual(normalize(r), normalize(r2)) {
			t.Fatalf("round trip changed the record:\n%+v\n%+v", r, r2)
		}
	})
}

// normalize makes values that encode the same compare equal (nil and empty
// slices, compacted raw JSON).
func normalize(r queue.Record) queue.Record {
	if len(r.IDNumberSealed) == 0 {
		r.IDNumberSealed = nil
	}
	if len(r.NameSealed) == 0 {
		r.NameSealed = nil
	}
	r.Measurements = compact(r.Measurements)
	r.Report = compact(r.Report)
	return r
}

func compact(m json.RawMessage) json.RawMessage {
	if len(m) == 0 {
		return nil
	}
	out, err := json.Marshal(m)
	if err != nil {
		return m
	}
	return out
}

func TestDecodeRecord(t *testing.T) {
	q := openQueue(t, t.TempDir(), queue.Options{})
	r, _, _ := commit(t, q, testIDNumber)
	good, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := queue.DecodeRecord(good); err != nil || got.ID != r.ID {
		t.Fatalf("DecodeRecord(a committed record) = %s, %v", got.ID, err)
	}
	edit := func(fn func(m map[string]any)) []byte {
		var m map[string]any
		json.Unmarshal(good, &m)
		fn(m)
		b, _ := json.Marshal(m)
		return b
	}
	cases := map[string][]byte{
		"empty":          nil,
		"null":           []byte("null"),
		"truncated":      good[:len(good)/2],
		"trailing":       append(append([]byte{}, good...), "{}"...),
		"unknown state":  edit(func(m map[string]any) { m["state"] = "lost" }),
		"uuid v4":        edit(func(m map[string]any) { m["id"] = "0190a3b2-7c4d-4e5f-8a6b-1c2d3e4f5a6b" }),
		"path in blob":   edit(func(m map[string]any) { m["photo"] = map[string]any{"sha256": "../queue.key", "size": 32} }),
		"zero size blob": edit(func(m map[string]any) { m["original"].(map[string]any)["size"] = 0 }),
		"no student key": edit(func(m map[string]any) { delete(m, "studentKey") }),
		"bad retakeOf":   edit(func(m map[string]any) { m["retakeOf"] = "x" }),
		"negative tries": edit(func(m map[string]any) { m["attempts"] = -1 }),
		"too big":        append(append([]byte{}, good...), make([]byte, 1<<20)...),
	}
	for name, b := range cases {
		if got, err := queue.DecodeRecord(b); err == nil {
			t.Errorf("DecodeRecord(%s) = %s, nil; want an error", name, got.ID)
		}
	}
}
