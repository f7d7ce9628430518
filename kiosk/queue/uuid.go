package queue

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"
)

// UUID is a 16-byte RFC 9562 UUID. Record IDs are version 7: the first 48
// bits are the Unix time in milliseconds, big-endian, so the byte order of
// two IDs (and the order of their canonical strings) is their time order.
type UUID [16]byte

// String returns the canonical lower-case 8-4-4-4-12 form.
func (u UUID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// Version returns the UUID's version number (7 for record IDs).
func (u UUID) Version() int { return int(u[6] >> 4) }

// Time returns the millisecond timestamp of a version 7 UUID.
func (u UUID) Time() time.Time {
	var b [8]byte
	copy(b[2:], u[:6])
	return time.UnixMilli(int64(binary.BigEndian.Uint64(b[:])))
}

// ParseUUID reads the canonical 36-character form of a version 7 UUID with
// the RFC 9562 variant; anything else is an error.
func ParseUUID(s string) (UUID, error) {
	var u UUID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, fmt.Errorf("parse uuid %q: not in 8-4-4-4-12 form", s)
	}
	groups := [...][2]int{{0, 8}, {9, 13}, {14, 18}, {19, 23}, {24, 36}}
	n := 0
	for _, g := range groups {
		part := s[g[0]:g[1]]
		for i := 0; i < len(part); i++ {
			if c := part[i]; ('A' <= c && c <= 'F') || !isHex(c) {
				return u, fmt.Errorf("parse uuid %q: not lower-case hex", s)
			}
		}
		m, err := hex.Decode(u[n:], []byte(part))
		if err != nil {
			return u, fmt.Errorf("parse uuid %q: %w", s, err)
		}
		n += m
	}
	if u.Version() != 7 || u[8]&0xC0 != 0x80 {
		return u, fmt.Errorf("parse uuid %q: not a version 7 UUID", s)
	}
	return u, nil
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

// UUIDGen makes version 7 UUIDs that increase strictly, even when several are
// made in the same millisecond or the wall clock steps back (RFC 9562
// section 6.2, method 2: within a millisecond, or while the clock is behind
// the last ID, the 74 random bits of the previous ID are incremented by a
// random amount). The zero value is ready to use and safe for concurrent use.
type UUIDGen struct {
	mu   sync.Mutex
	last UUID
}

// errClockExhausted is returned only when carrying into the timestamp would
// pass its 48 bits (the year 10889); it keeps New total.
var errClockExhausted = errors.New("uuid counter exhausted")

// Seed makes every later ID sort after last, so IDs stay increasing across
// restarts even if the clock was set back meanwhile.
func (g *UUIDGen) Seed(last UUID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if bytes.Compare(last[:], g.last[:]) > 0 {
		g.last = last
	}
}

// New returns the next ID for the time now.
func (g *UUIDGen) New(now time.Time) (UUID, error) {
	var u UUID
	if _, err := rand.Read(u[6:]); err != nil {
		return u, fmt.Errorf("uuid: %w", err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	ms := now.UnixMilli()
	if ms < 0 {
		ms = 0
	}
	if ms > g.last.Time().UnixMilli() || g.last == (UUID{}) {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(ms)&(1<<48-1))
		copy(u[:6], b[2:])
		setVersion(&u)
		g.last = u
		return u, nil
	}
	// Same (or an earlier) millisecond: continue from the last ID. The 74
	// random bits are rand_a (12) || rand_b (62); add a random step of up to
	// 2^31 so the next ID stays hard to guess, carrying into the timestamp if
	// the bits overflow.
	r := unpackRand(g.last)
	step := uint64(binary.BigEndian.Uint32(u[12:16])>>1) + 1
	r.lo += step
	if r.lo >= 1<<62 {
		r.lo -= 1 << 62
		r.hi++
	}
	ts := g.last.Time().UnixMilli()
	if r.hi >= 1<<12 {
		r.hi = 0
		ts++
		if ts >= 1<<48 {
			return u, errClockExhausted
		}
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(ts))
	copy(u[:6], b[2:])
	packRand(&u, r)
	setVersion(&u)
	g.last = u
	return u, nil
}

type rand74 struct {
	hi uint64 // 12 bits: rand_a
	lo uint64 // 62 bits: rand_b
}

func unpackRand(u UUID) rand74 {
	return rand74{
		hi: uint64(binary.BigEndian.Uint16(u[6:8]) & 0x0FFF),
		lo: binary.BigEndian.Uint64(u[8:16]) & (1<<62 - 1),
	}
}

func packRand(u *UUID, r rand74) {
	binary.BigEndian.PutUint16(u[6:8], uint16(r.hi))
	binary.BigEndian.PutUint64(u[8:16], r.lo)
}

func setVersion(u *UUID) {
	u[6] = u[6]&0x0F | 0x70
	u[8] = u[8]&0x3F | 0x80
}
