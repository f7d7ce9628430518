package bundle_test

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kioskd/sync/bundle"
	"kioskd/sync/wire"
)

// resign replaces a bundle's index with b and signs it with the station's
// real key, as a holder of the token (or a bug) could: the index's own
// checks must then refuse it.
func resign(t *testing.T, dir string, b []byte) {
	t.Helper()
	key, _ := hkdf.Key(sha256.New, token[:], nil, "kioskd/bundle/v1/index", 32)
	mac := hmac.New(sha256.New, key)
	mac.Write(b)
	if err := os.WriteFile(filepath.Join(dir, "bundle.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bundle.json.sig"), []byte(hex.EncodeToString(mac.Sum(nil))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// mutate applies fn to the index decoded as generic JSON and encodes it again.
func mutate(t *testing.T, index []byte, fn func(map[string]any)) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(index, &m); err != nil {
		t.Fatal(err)
	}
	fn(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHostileIndex(t *testing.T) {
	recs := threeRecords()
	path := writeBundle(t, recs)
	index, err := os.ReadFile(filepath.Join(path, "bundle.json"))
	if err != nil {
		t.Fatal(err)
	}
	ix := string(index)
	id := recs[0].Manifest.RecordID
	sum := recs[0].Manifest.Photo.SHA256
	rec := `"file":"records/` + id + `.json.enc"`
	blob := `"file":"blobs/` + sum + `.enc"`
	replace := func(old, new string) string {
		if !strings.Contains(ix, old) {
			t.Fatalf("index has no %q", old)
		}
		return strings.Replace(ix, old, new, 1)
	}
	tests := []struct{ name, index string }{
		{"record file up and out", replace(rec, `"file":"../../../etc/passwd"`)},
		{"record file through records/..", replace(rec, `"file":"records/../bundle.json"`)},
		{"record file absolute", replace(rec, `"file":"/etc/passwd"`)},
		{"record file of another ID", replace(rec, `"file":"records/`+recs[1].Manifest.RecordID+`.json.enc"`)},
		{"blob file up and out", replace(blob, `"file":"blobs/../../`+sum+`.enc"`)},
		{"blob file backslash", replace(blob, `"file":"blobs\\`+sum+`.enc"`)},
		{"record ID traversal", strings.ReplaceAll(ix, id, "../"+id[3:])},
		{"duplicate record ID", strings.ReplaceAll(ix, recs[1].Manifest.RecordID, id)},
		{"duplicate blob", strings.ReplaceAll(ix, recs[1].Manifest.Photo.SHA256, sum)},
		{"too many records", replace(`"records":[`, `"records":[`+strings.Repeat(`{},`, bundle.MaxRecords))},
		{"more blobs than two per record", mutate(t, index, func(m map[string]any) { m["records"] = m["records"].([]any)[:1] })},
		{"unknown field", replace(`"format"`, `"extra":1,"format"`)},
		{"field twice", replace(`"format"`, `"station_id":"lib-1","format"`)},
		{"newer format", replace(`"kioskd-bundle/1"`, `"kioskd-bundle/2"`)},
		{"trailing data", ix + `{}`},
		{"zero blob size", mutate(t, index, func(m map[string]any) { m["blobs"].([]any)[0].(map[string]any)["size"] = 0 })},
		{"blob over the size limit", mutate(t, index, func(m map[string]any) { m["blobs"].([]any)[0].(map[string]any)["size"] = wire.MaxBlobBytes + 1 })},
		{"no format", mutate(t, index, func(m map[string]any) { delete(m, "format") })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyDir(t, path)
			resign(t, dir, []byte(tt.index))
			r, err := bundle.Open(dir, keyFor)
			if err == nil {
				err = r.Each(func(bundle.Record) error { return nil })
			}
			if !errors.Is(err, bundle.ErrInvalid) {
				t.Fatalf("hostile index accepted or refused for the wrong reason: %v; want ErrInvalid", err)
			}
		})
	}
	// Control: re-signing the index unchanged is accepted, so the refusals
	// above come from the index's content, not from resign.
	dir := copyDir(t, path)
	resign(t, dir, index)
	if _, err := readAll(dir); err != nil {
		t.Fatalf("re-signed unchanged index: %v", err)
	}
}

// TestDecodeIndexCounts: a hostile count is refused while decoding.
func TestDecodeIndexCounts(t *testing.T) {
	head := `{"format":"kioskd-bundle/1","station_id":"lib-1","created_at":"2026-06-01T00:00:00Z","key_id":"0123456789abcdef",`
	tests := []struct {
		name, index string
		ok          bool
	}{
		{"empty", head + `"records":[],"blobs":[]}`, true},
		{"records over the limit", head + `"records":[` + strings.Repeat(`{},`, bundle.MaxRecords) + `{}],"blobs":[]}`, false},
		{"blobs over the limit", head + `"records":[],"blobs":[` + strings.Repeat(`{},`, bundle.MaxBlobs) + `{}]}`, false},
		{"records not an array", head + `"records":{},"blobs":[]}`, false},
		{"records null", head + `"records":null,"blobs":[]}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := bundle.DecodeIndex([]byte(tt.index))
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, bundle.ErrInvalid)) {
				t.Fatalf("DecodeIndex = %v; want ok %v (errors wrapping ErrInvalid)", err, tt.ok)
			}
		})
	}
}
