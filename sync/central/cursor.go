package central

import (
	"fmt"
	"strconv"
	"strings"

	"kioskd/sync/wire"
)

// epochLen is the length of an epoch: 8 random bytes in hex.
const epochLen = 16

func validEpoch(e string) bool {
	if len(e) != epochLen {
		return false
	}
	for i := 0; i < len(e); i++ {
		if c := e[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// cursor is the feed cursor after seq: "EPOCH.SEQ".
func (s *Server) cursor(seq uint64) string {
	return s.epoch + "." + strconv.FormatUint(seq, 10)
}

// parseCursor splits a cursor "EPOCH.SEQ" (16 lower-case hex digits, a
// dot, a decimal number without leading zeros). The empty cursor is epoch
// "" and seq 0. Anything else is ErrBadCursor.
func parseCursor(c string) (epoch string, seq uint64, err error) {
	if c == "" {
		return "", 0, nil
	}
	if wire.CheckCursor(c) != nil {
		return "", 0, fmt.Errorf("%w: not printable ASCII of at most %d bytes", ErrBadCursor, wire.MaxCursorBytes)
	}
	epoch, num, ok := strings.Cut(c, ".")
	if !ok || !validEpoch(epoch) {
		return "", 0, fmt.Errorf("%w: want EPOCH.SEQ", ErrBadCursor)
	}
	if num == "" || len(num) > 20 || (num[0] == '0' && len(num) > 1) || strings.TrimLeft(num, "0123456789") != "" {
		return "", 0, fmt.Errorf("%w: SEQ is not a decimal number", ErrBadCursor)
	}
	seq, err = strconv.ParseUint(num, 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("%w: SEQ out of range", ErrBadCursor)
	}
	return epoch, seq, nil
}

// parseCursor returns the seq a feed resumes after: ErrBadCursor for a
// malformed cursor, ErrCursorGone for another epoch's or one past head.
func (s *Server) parseCursor(c string, head uint64) (uint64, error) {
	epoch, seq, err := parseCursor(c)
	switch {
	case err != nil:
		return 0, err
	case c == "":
		return 0, nil
	case epoch != s.epoch:
		return 0, fmt.Errorf("%w: epoch %s, this server's is %s", ErrCursorGone, epoch, s.epoch)
	case seq > head:
		return 0, fmt.Errorf("%w: %d is past the newest change %d", ErrCursorGone, seq, head)
	}
	return seq, nil
}
