package roster_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"kioskd/kiosk/roster"
)

// TestCodeIndexRepair empties the code index behind the roster's back, as
// a crash between the two import phases could leave it: the next import
// of unchanged rows puts the codes back.
func TestCodeIndexRepair(t *testing.T) {
	dir := t.TempDir()
	r := openRoster(t, dir, roster.Options{})
	importCSV(t, r, sixRows(), roster.Replace)
	r.Close()

	db, err := bolt.Open(filepath.Join(dir, roster.DBFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket([]byte("codes")); err != nil {
			return err
		}
		_, err := tx.CreateBucket([]byte("codes"))
		return err
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	r = openRoster(t, dir, roster.Options{})
	if m, err := r.IdentifyByCode("C2"); err != nil || m.State != roster.StatusNotOnRoster {
		t.Fatalf("with the index emptied, IdentifyByCode = %s, %v; want not on roster", m.State, err)
	}
	if res := importCSV(t, r, sixRows(), roster.Replace); counts(res) != [4]int{0, 0, 6, 0} {
		t.Fatalf("re-import counts %v; want 6 unchanged", counts(res))
	}
	if m, err := r.IdentifyByCode("C2"); err != nil || m.Name != "王五" {
		t.Errorf("after re-import, IdentifyByCode = %q, %v; want 王五", m.Name, err)
	}
}

// TestReplaceCounts checks removal against the kept count of active
// students, which lets a Replace import that lists everyone skip the scan.
func TestReplaceCounts(t *testing.T) {
	r := openRoster(t, t.TempDir(), roster.Options{BatchSize: 2})
	importCSV(t, r, sixRows(), roster.Replace)
	steps := []struct {
		keep []int
		want [4]int
	}{
		{[]int{0, 1, 2, 3, 4, 5}, [4]int{0, 0, 6, 0}},
		{[]int{0, 1, 2}, [4]int{0, 0, 3, 3}},
		{[]int{0, 1, 2}, [4]int{0, 0, 3, 0}},
		{[]int{3, 4}, [4]int{2, 0, 0, 3}},
		{[]int{0, 1, 2, 3, 4, 5}, [4]int{4, 0, 2, 0}},
		{[]int{5}, [4]int{0, 0, 1, 5}},
	}
	for i, st := range steps {
		var b strings.Builder
		b.WriteString(header)
		for _, k := range st.keep {
			b.WriteString(row(ids[k], sixNames[k], "", "C"+string(rune('0'+k))))
		}
		if res := importCSV(t, r, b.String(), roster.Replace); counts(res) != st.want {
			t.Fatalf("step %d (keep %v): counts %v; want %v", i, st.keep, counts(res), st.want)
		}
		got, err := r.Counts()
		if err != nil || got[roster.StatusEligible] != len(st.keep) || got[roster.StatusNotOnRoster] != 6-len(st.keep) {
			t.Errorf("step %d: Counts = %v, %v; want %d eligible", i, got, err, len(st.keep))
		}
	}
	_, err := r.Import([]roster.Row{{IDNumber: ids[0], Name: "a"}, {IDNumber: strings.ToLower(ids[0]), Name: "b"}}, roster.Replace)
	if !errors.Is(err, roster.ErrBadRows) {
		t.Errorf("Import with one ID number twice = %v; want ErrBadRows", err)
	}
}
