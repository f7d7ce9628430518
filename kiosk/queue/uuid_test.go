package queue_test

import (
	"bytes"
	"regexp"
	"sort"
	"testing"
	"time"

	"kioskd/kiosk/queue"
)

var uuidV7 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestUUIDFormat(t *testing.T) {
	var g queue.UUIDGen
	now := time.Date(2026, 6, 20, 9, 30, 15, 123_456_789, time.UTC)
	u, err := g.New(now)
	if err != nil {
		t.Fatal(err)
	}
	s := u.String()
	if !uuidV7.MatchString(s) {
		t.Fatalf("New() = %s; not a version 7 UUID with the RFC 9562 variant", s)
	}
	if u.Version() != 7 {
		t.Errorf("Version() = %d; want 7", u.Version())
	}
	if got, want := u.Time(), now.Truncate(time.Millisecond); !got.Equal(want) {
		t.Errorf("Time() = %v; want %v", got, want)
	}
	// The first 48 bits are the Unix time in milliseconds, big-endian.
	ms := now.UnixMilli()
	want := []byte{byte(ms >> 40), byte(ms >> 32), byte(ms >> 24), byte(ms >> 16), byte(ms >> 8), byte(ms)}
	if !bytes.Equal(u[:6], want) {
		t.Errorf("timestamp bytes = %x; want %x", u[:6], want)
	}
	back, err := queue.ParseUUID(s)
	if err != nil || back != u {
		t.Errorf("ParseUUID(%s) = %v, %v; want the same UUID", s, back, err)
	}
}

func TestUUIDMonotonic(t *testing.T) {
	var g queue.UUIDGen
	base := time.Date(2026, 6, 20, 9, 0, 0, 0, time.UTC)
	var ids []string
	// 2000 IDs in one millisecond, then the clock steps back a second, then forward.
	for i := range 3000 {
		now := base
		switch {
		case i >= 2500:
			now = base.Add(5 * time.Millisecond)
		case i >= 2000:
			now = base.Add(-time.Second)
		}
		u, err := g.New(now)
		if err != nil {
			t.Fatal(err)
		}
		if !uuidV7.MatchString(u.String()) {
			t.Fatalf("id %d = %s; not a version 7 UUID", i, u)
		}
		ids = append(ids, u.String())
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] <= ids[i-1] {
			t.Fatalf("id %d = %s is not after id %d = %s", i, ids[i], i-1, ids[i-1])
		}
	}
	if !sort.StringsAreSorted(ids) {
		t.Fatal("string order differs from generation order")
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("duplicate id %s", id)
		}
		seen[id] = true
	}
}

func TestUUIDSeed(t *testing.T) {
	var a queue.UUIDGen
	later, err := a.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	var b queue.UUIDGen
	b.Seed(later)
	u, err := b.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if u.String() <= later.String() {
		t.Errorf("after Seed(%s), New = %s; want a later ID", later, u)
	}
}

func TestParseUUIDRejects(t *testing.T) {
	for _, s := range []string{
		"",
		"0190a3b2-7c4d-7e5f-8a6b-1c2d3e4f5a6",     // short
		"0190a3b2-7c4d-7e5f-8a6b-1c2d3e4f5a6b0",   // long
		"0190a3b27c4d-7e5f-8a6b-1c2d3e4f5a6b0",    // dash moved
		"0190a3b2-7c4d-4e5f-8a6b-1c2d3e4f5a6b",    // version 4
		"0190a3b2-7c4d-7e5f-ca6b-1c2d3e4f5a6b",    // wrong variant
		"0190A3B2-7C4D-7E5F-8A6B-1C2D3E4F5A6B",    // upper case
		"0190a3b2-7c4d-7e5f-8a6b-1c2d3e4f5a6g",    // not hex
		"../../../../../../etc/passwd-aaaaaaaaaa", // path
	} {
		if u, err := queue.ParseUUID(s); err == nil {
			t.Errorf("ParseUUID(%q) = %v, nil; want an error", s, u)
		}
	}
	if _, err := queue.ParseUUID("0190a3b2-7c4d-7e5f-8a6b-1c2d3e4f5a6b"); err != nil {
		t.Errorf("ParseUUID(valid) = %v", err)
	}
}
