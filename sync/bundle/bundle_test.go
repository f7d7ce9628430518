package bundle_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kioskd/sync/bundle"
	"kioskd/sync/wire"
)

const (
	station  = "lib-1"
	idNumber = "11010519491231002X"
	name     = "张三丰"
)

var token = sha256.Sum256([]byte("test-token-of-lib-1"))

func keyFor(id string) ([32]byte, bool) {
	if id == station {
		return token, true
	}
	return [32]byte{}, false
}

func recordID(i int) string { return fmt.Sprintf("0190d6a4-5b1e-7c3a-9f00-%012x", i) }

// blobBytes makes distinct, recognisable bytes for a test blob.
func blobBytes(tag string, n int) []byte {
	b := bytes.Repeat([]byte(tag+"|"), n/(len(tag)+1)+1)
	return b[:n]
}

func record(i int, photo, original []byte) bundle.Record {
	at := time.Date(2026, 6, 1, 9, 30, i, 123456789, time.FixedZone("CST", 8*3600))
	return bundle.Record{
		Manifest: wire.Manifest{
			Schema:       wire.ManifestSchema,
			RecordID:     recordID(i),
			StationID:    station,
			CapturedAt:   at,
			Operator:     "op07",
			Student:      wire.Student{IDNumber: idNumber, Name: name},
			Spec:         "chsi-graduation",
			Background:   "replace",
			Fee:          wire.Fee{Yuan: 30, Method: "cash"},
			Consent:      wire.Consent{Version: "2026-05", At: at.Add(-time.Minute)},
			Measurements: json.RawMessage(`{ "eye_y": 250, "note": "<&>" }`),
			Photo:        wire.Blob{SHA256: wire.SHA256(photo), Size: int64(len(photo))},
			Original:     wire.Blob{SHA256: wire.SHA256(original), Size: int64(len(original))},
		},
		Photo:    photo,
		Original: original,
	}
}

// threeRecords: the first two share their original frame.
func threeRecords() []bundle.Record {
	shared := blobBytes("original-shared", 3000)
	return []bundle.Record{
		record(1, blobBytes("photo-1", 500), shared),
		record(2, blobBytes("photo-2", 600), shared),
		record(3, blobBytes("photo-3", 700), blobBytes("original-3", 2500)),
	}
}

// writeBundle writes recs into a new temp folder and returns the bundle's path.
func writeBundle(t *testing.T, recs []bundle.Record) string {
	t.Helper()
	w, err := bundle.NewWriter(t.TempDir(), station, token)
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	for _, r := range recs {
		if err := w.Add(r); err != nil {
			t.Fatalf("Add(%s): %v", r.Manifest.RecordID, err)
		}
	}
	path, err := w.Close()
	if err != nil {
		t.Fatalf("Close: %v", err)
	}
	return path
}

func readAll(path string) ([]bundle.Record, error) {
	r, err := bundle.Open(path, keyFor)
	if err != nil {
		return nil, err
	}
	var out []bundle.Record
	err = r.Each(func(rec bundle.Record) error {
		out = append(out, rec)
		return nil
	})
	return out, err
}

func TestRoundTrip(t *testing.T) {
	recs := threeRecords()
	path := writeBundle(t, recs)

	if base := filepath.Base(path); !strings.HasPrefix(base, "kioskd-"+station+"-") || len(base) != len("kioskd-lib-1-20060102T150405Z") {
		t.Errorf("bundle folder %q: want kioskd-%s-<UTC time>", base, station)
	}
	listed, err := bundle.List(filepath.Dir(path))
	if err != nil || len(listed) != 1 || listed[0] != path {
		t.Errorf("List = %v, %v; want [%s]", listed, err, path)
	}
	blobFiles, _ := os.ReadDir(filepath.Join(path, "blobs"))
	if len(blobFiles) != 5 {
		t.Errorf("%d blob files; want 5 (the shared original once)", len(blobFiles))
	}

	r, err := bundle.Open(path, keyFor)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if r.StationID() != station || r.Len() != len(recs) {
		t.Errorf("StationID, Len = %q, %d; want %q, %d", r.StationID(), r.Len(), station, len(recs))
	}
	if age := time.Since(r.CreatedAt()); age < 0 || age > time.Minute {
		t.Errorf("CreatedAt = %v; want about now", r.CreatedAt())
	}
	got, err := readAll(path)
	if err != nil {
		t.Fatalf("Each: %v", err)
	}
	if len(got) != len(recs) {
		t.Fatalf("Each gave %d records; want %d", len(got), len(recs))
	}
	for i := range recs {
		want, have := recs[i], got[i]
		ws, _ := want.Manifest.SHA256()
		hs, _ := have.Manifest.SHA256()
		if ws != hs {
			t.Errorf("record %d: manifest SHA-256 %s after the round trip; want %s (central would see another manifest)", i, hs, ws)
		}
		if !bytes.Equal(want.Photo, have.Photo) || !bytes.Equal(want.Original, have.Original) {
			t.Errorf("record %d: blob bytes differ after the round trip", i)
		}
	}
}

// TestNoPersonalDataInFiles: no file of a bundle shows the ID number, the
// name or a photo's bytes in the clear.
func TestNoPersonalDataInFiles(t *testing.T) {
	recs := threeRecords()
	path := writeBundle(t, recs)
	secrets := [][]byte{[]byte(idNumber), []byte(name), []byte("op07"), recs[0].Photo[:64], recs[0].Original[:64]}
	n := 0
	err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			if bytes.Contains(b, s) {
				t.Errorf("%s holds %q in the clear", filepath.Base(p), s)
			}
		}
		return nil
	})
	if err != nil || n != 2+3+5 {
		t.Fatalf("walked %d files (%v); want 10", n, err)
	}
}

// TestKeyDerivationMatchesSpec opens a bundle with keys derived here from
// the documented recipe, as another implementation of central would.
func TestKeyDerivationMatchesSpec(t *testing.T) {
	recs := threeRecords()
	path := writeBundle(t, recs)

	fileKey, _ := hkdf.Key(sha256.New, token[:], nil, "kioskd/bundle/v1", 32)
	indexKey, _ := hkdf.Key(sha256.New, token[:], nil, "kioskd/bundle/v1/index", 32)
	keyID, _ := hkdf.Key(sha256.New, token[:], nil, "kioskd/bundle/v1/key-id", 8)

	index, _ := os.ReadFile(filepath.Join(path, "bundle.json"))
	sig, _ := os.ReadFile(filepath.Join(path, "bundle.json.sig"))
	mac := hmac.New(sha256.New, indexKey)
	mac.Write(index)
	if want := hex.EncodeToString(mac.Sum(nil)) + "\n"; string(sig) != want {
		t.Errorf("bundle.json.sig = %q; want %q", sig, want)
	}
	var ix struct {
		Format string `json:"format"`
		KeyID  string `json:"key_id"`
	}
	if err := json.Unmarshal(index, &ix); err != nil || ix.Format != "kioskd-bundle/1" || ix.KeyID != hex.EncodeToString(keyID) {
		t.Errorf("index format, key_id = %q, %q (%v); want kioskd-bundle/1, %x", ix.Format, ix.KeyID, err, keyID)
	}

	block, _ := aes.NewCipher(fileKey)
	gcm, _ := cipher.NewGCM(block)
	open := func(file, aad string) []byte {
		b, err := os.ReadFile(filepath.Join(path, file))
		if err != nil || len(b) < 16 || string(b[:4]) != "KBN1" {
			t.Fatalf("%s: %v, or no KBN1 magic", file, err)
		}
		pt, err := gcm.Open(nil, b[4:16], b[16:], []byte(aad))
		if err != nil {
			t.Fatalf("%s: open with the documented key and AAD %q: %v", file, aad, err)
		}
		return pt
	}
	m := recs[0].Manifest
	canon, _ := m.Canonical()
	if got := open("records/"+m.RecordID+".json.enc", "record:"+m.RecordID); !bytes.Equal(got, canon) {
		t.Errorf("record file holds %q; want the canonical manifest %q", got, canon)
	}
	if got := open("blobs/"+m.Photo.SHA256+".enc", "blob:"+m.Photo.SHA256); !bytes.Equal(got, recs[0].Photo) {
		t.Errorf("blob file does not hold the photo")
	}
}

func TestOpenKeys(t *testing.T) {
	path := writeBundle(t, threeRecords())
	other := sha256.Sum256([]byte("rotated token"))
	tests := []struct {
		name   string
		keyFor func(string) ([32]byte, bool)
		want   error
	}{
		{"wrong token", func(string) ([32]byte, bool) { return other, true }, bundle.ErrWrongKey},
		{"unknown station", func(string) ([32]byte, bool) { return [32]byte{}, false }, bundle.ErrUnknownStation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := bundle.Open(path, tt.keyFor)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open = %v, %v; want %v", r, err, tt.want)
			}
		})
	}
}

func TestOpenMissing(t *testing.T) {
	_, err := bundle.Open(filepath.Join(t.TempDir(), "nope"), keyFor)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open(missing folder) = %v; want fs.ErrNotExist", err)
	}
	_, err = bundle.Open(t.TempDir(), keyFor)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open(empty folder) = %v; want fs.ErrNotExist", err)
	}
}

func flip(t *testing.T, path string, i int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[i] ^= 0x01
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestFlippedIndexByte flips each byte of bundle.json in turn: Open must
// refuse every one, as tampered, or (when the flip lands in the station
// or the key ID) as another station's or another key's bundle.
func TestFlippedIndexByte(t *testing.T) {
	path := writeBundle(t, threeRecords()[:1])
	index, _ := os.ReadFile(filepath.Join(path, "bundle.json"))
	sig, _ := os.ReadFile(filepath.Join(path, "bundle.json.sig"))
	tampered := 0
	for i := range index {
		b := bytes.Clone(index)
		b[i] ^= 0x01
		if err := os.WriteFile(filepath.Join(path, "bundle.json"), b, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := bundle.Open(path, keyFor)
		switch {
		case errors.Is(err, bundle.ErrTampered):
			tampered++
		case errors.Is(err, bundle.ErrUnknownStation), errors.Is(err, bundle.ErrWrongKey):
		default:
			t.Errorf("byte %d (%q) flipped: Open = %v; want a refusal", i, index[i], err)
		}
	}
	if tampered < len(index)*9/10 {
		t.Errorf("only %d of %d flips reported as ErrTampered", tampered, len(index))
	}
	os.WriteFile(filepath.Join(path, "bundle.json"), index, 0o600)
	for i := range sig {
		b := bytes.Clone(sig)
		b[i] ^= 0x01
		os.WriteFile(filepath.Join(path, "bundle.json.sig"), b, 0o600)
		if _, err := bundle.Open(path, keyFor); !errors.Is(err, bundle.ErrTampered) {
			t.Errorf("signature byte %d flipped: Open = %v; want ErrTampered", i, err)
		}
	}
}

// TestFlippedFileByte flips each byte of a record file and of a blob file:
// Each must refuse, naming the record, and never hand the record over.
func TestFlippedFileByte(t *testing.T) {
	recs := threeRecords()[:1]
	m := recs[0].Manifest
	path := writeBundle(t, recs)
	for _, file := range []string{"records/" + m.RecordID + ".json.enc", "blobs/" + m.Original.SHA256 + ".enc", "blobs/" + m.Photo.SHA256 + ".enc"} {
		t.Run(strings.SplitN(file, "/", 2)[0], func(t *testing.T) {
			p := filepath.Join(path, file)
			orig, _ := os.ReadFile(p)
			for i := range orig {
				b := bytes.Clone(orig)
				b[i] ^= 0x80
				os.WriteFile(p, b, 0o600)
				got, err := readAll(path)
				if !errors.Is(err, bundle.ErrTampered) || !strings.Contains(err.Error(), m.RecordID) || len(got) != 0 {
					t.Fatalf("byte %d of %d flipped: Each gave %d records, %v; want ErrTampered naming %s", i, len(orig), len(got), err, m.RecordID)
				}
			}
			os.WriteFile(p, orig, 0o600)
		})
	}
	if _, err := readAll(path); err != nil {
		t.Fatalf("restored bundle: %v", err)
	}
}

// TestDamagedFiles: truncated, missing, swapped and symlinked files.
func TestDamagedFiles(t *testing.T) {
	recs := threeRecords()
	m := recs[2].Manifest
	rec := "records/" + m.RecordID + ".json.enc"
	photo := "blobs/" + m.Photo.SHA256 + ".enc"
	original := "blobs/" + m.Original.SHA256 + ".enc"
	truncate := func(file string, n int) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, file))
			os.WriteFile(filepath.Join(dir, file), b[:n], 0o600)
		}
	}
	tests := []struct {
		name     string
		damage   func(t *testing.T, dir string)
		openFail bool // refused by Open rather than Each
		want     error
	}{
		{"truncated record", truncate(rec, 100), false, bundle.ErrTampered},
		{"record cut to the header", truncate(rec, 10), false, bundle.ErrTampered},
		{"truncated blob", truncate(photo, 200), false, bundle.ErrTampered},
		{"empty blob", truncate(original, 0), false, bundle.ErrTampered},
		{"truncated index", truncate("bundle.json", 300), true, bundle.ErrTampered},
		{"truncated signature", truncate("bundle.json.sig", 30), true, bundle.ErrTampered},
		{"missing signature", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "bundle.json.sig")) }, true, bundle.ErrTampered},
		{"missing blob", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, original)) }, false, bundle.ErrTampered},
		{"blob copied over another", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, original))
			os.WriteFile(filepath.Join(dir, photo), b, 0o600)
		}, false, bundle.ErrTampered},
		{"record is a folder", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, rec))
			os.Mkdir(filepath.Join(dir, rec), 0o700)
		}, false, bundle.ErrTampered},
		{"symlink out of the bundle", func(t *testing.T, dir string) {
			outside := filepath.Join(t.TempDir(), "outside")
			b, _ := os.ReadFile(filepath.Join(dir, rec))
			os.WriteFile(outside, b, 0o600) // the right bytes, but not inside the bundle
			os.Remove(filepath.Join(dir, rec))
			if err := os.Symlink(outside, filepath.Join(dir, rec)); err != nil {
				t.Skipf("symlink: %v", err)
			}
		}, false, bundle.ErrTampered},
	}
	path := writeBundle(t, recs)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyDir(t, path)
			if _, err := readAll(dir); err != nil {
				t.Fatalf("undamaged copy: %v", err)
			}
			tt.damage(t, dir)
			r, err := bundle.Open(dir, keyFor)
			if tt.openFail {
				if !errors.Is(err, tt.want) {
					t.Fatalf("Open = %v; want %v", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open = %v; want the damage found by Each", err)
			}
			var got []string
			err = r.Each(func(rec bundle.Record) error {
				got = append(got, rec.Manifest.RecordID)
				return nil
			})
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), m.RecordID) {
				t.Fatalf("Each = %v; want %v naming %s", err, tt.want, m.RecordID)
			}
			if strings.Contains(err.Error(), idNumber) || strings.Contains(err.Error(), name) {
				t.Fatalf("Each error %q names the student", err)
			}
			if len(got) != 2 { // the two undamaged records before it
				t.Fatalf("Each handed over %v before failing; want the first two records", got)
			}
		})
	}
}

func TestEachStopsOnCallbackError(t *testing.T) {
	path := writeBundle(t, threeRecords())
	r, err := bundle.Open(path, keyFor)
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("disk full at central")
	calls := 0
	err = r.Each(func(bundle.Record) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 || !strings.Contains(err.Error(), recordID(1)) {
		t.Fatalf("Each = %v after %d calls; want the callback's error, once, naming %s", err, calls, recordID(1))
	}
}
