package bundle_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kioskd/sync/bundle"
)

func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// TestInterruptedWriter: an export that never reaches Close leaves nothing
// Open accepts, and Abort leaves nothing at all.
func TestInterruptedWriter(t *testing.T) {
	recs := threeRecords()
	start := func(t *testing.T) (*bundle.Writer, string) {
		parent := t.TempDir()
		w, err := bundle.NewWriter(parent, station, token)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs[:2] {
			if err := w.Add(r); err != nil {
				t.Fatal(err)
			}
		}
		return w, parent
	}

	t.Run("abort", func(t *testing.T) {
		w, parent := start(t)
		if err := w.Abort(); err != nil {
			t.Fatalf("Abort: %v", err)
		}
		if names := entries(t, parent); len(names) != 0 {
			t.Fatalf("after Abort the folder holds %v; want nothing", names)
		}
		if err := w.Add(recs[2]); err == nil {
			t.Fatal("Add after Abort succeeded")
		}
		if _, err := w.Close(); err == nil {
			t.Fatal("Close after Abort succeeded")
		}
	})

	t.Run("never closed", func(t *testing.T) {
		_, parent := start(t) // the process "dies" here
		listed, err := bundle.List(parent)
		if err != nil || len(listed) != 0 {
			t.Fatalf("List = %v, %v; want no bundle", listed, err)
		}
		names := entries(t, parent)
		if len(names) != 1 || !strings.HasPrefix(names[0], ".partial-") {
			t.Fatalf("folder holds %v; want one .partial- folder", names)
		}
		partial := filepath.Join(parent, names[0])
		if _, err := bundle.Open(partial, keyFor); err == nil {
			t.Fatal("Open accepted an unfinished export")
		}
		// Even under a bundle's name, a folder without its index is none.
		renamed := filepath.Join(parent, "kioskd-lib-1-20260601T000000Z")
		if err := os.Rename(partial, renamed); err != nil {
			t.Fatal(err)
		}
		if _, err := bundle.Open(renamed, keyFor); err == nil {
			t.Fatal("Open accepted a folder without bundle.json")
		}
	})

	t.Run("died between index and rename", func(t *testing.T) {
		w, parent := start(t)
		path, err := w.Close()
		if err != nil {
			t.Fatal(err)
		}
		partial := filepath.Join(parent, ".partial-0123456789abcdef")
		if err := os.Rename(path, partial); err != nil { // as it was just before the rename
			t.Fatal(err)
		}
		if _, err := bundle.Open(partial, keyFor); !errors.Is(err, bundle.ErrInvalid) {
			t.Fatalf("Open(%s) = %v; want ErrInvalid (unfinished export)", filepath.Base(partial), err)
		}
		if listed, _ := bundle.List(parent); len(listed) != 0 {
			t.Fatalf("List = %v; want no bundle", listed)
		}
	})
}

func TestWriterRefuses(t *testing.T) {
	recs := threeRecords()
	other := record(9, recs[0].Photo, recs[0].Original)
	other.Manifest.StationID = "lib-2"
	badPhoto := record(10, recs[0].Photo, recs[0].Original)
	badPhoto.Photo = append([]byte(nil), recs[0].Photo...)
	badPhoto.Photo[0] ^= 1
	shortOriginal := record(11, recs[0].Photo, recs[0].Original)
	shortOriginal.Original = shortOriginal.Original[:len(shortOriginal.Original)-1]
	invalidManifest := record(12, recs[0].Photo, recs[0].Original)
	invalidManifest.Manifest.RecordID = "not-a-uuid"

	parent := t.TempDir()
	w, err := bundle.NewWriter(parent, station, token)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Add(recs[0]); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		rec  bundle.Record
	}{
		{"same record twice", recs[0]},
		{"another station's record", other},
		{"photo bytes not matching the hash", badPhoto},
		{"original shorter than its size", shortOriginal},
		{"invalid manifest", invalidManifest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := w.Add(tt.rec); err == nil {
				t.Fatalf("Add accepted it")
			}
		})
	}
	// The refusals left the bundle as it was: it still takes a record and
	// holds exactly the good ones.
	if err := w.Add(recs[1]); err != nil {
		t.Fatalf("Add after refusals: %v", err)
	}
	path, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(path)
	if err != nil || len(got) != 2 || got[0].Manifest.RecordID != recs[0].Manifest.RecordID || got[1].Manifest.RecordID != recs[1].Manifest.RecordID {
		t.Fatalf("bundle holds %d records (%v); want the two good ones", len(got), err)
	}
	if _, err := bundle.NewWriter(parent, "../evil", token); err == nil {
		t.Fatal("NewWriter accepted station ID ../evil")
	}
}

func TestEmptyAndSeveralBundles(t *testing.T) {
	parent := t.TempDir()
	var paths []string
	for i := 0; i < 3; i++ { // usually within one second: the names must still differ
		w, err := bundle.NewWriter(parent, station, token)
		if err != nil {
			t.Fatal(err)
		}
		if i == 2 {
			if err := w.Add(threeRecords()[0]); err != nil {
				t.Fatal(err)
			}
		}
		p, err := w.Close()
		if err != nil {
			t.Fatalf("Close %d: %v", i, err)
		}
		if err := w.Abort(); err != nil {
			t.Fatalf("Abort after Close: %v", err)
		}
		paths = append(paths, p)
	}
	listed, err := bundle.List(parent)
	if err != nil || len(listed) != 3 {
		t.Fatalf("List = %v, %v; want the 3 bundles %v", listed, err, paths)
	}
	for i, p := range paths {
		r, err := bundle.Open(p, keyFor)
		if err != nil {
			t.Fatalf("Open(%s): %v", filepath.Base(p), err)
		}
		if want := map[bool]int{true: 1, false: 0}[i == 2]; r.Len() != want {
			t.Errorf("bundle %d: Len = %d; want %d", i, r.Len(), want)
		}
	}
}
