package roster_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"kioskd/kiosk/roster"
)

// The two worked examples printed in GB 11643-1999.
const (
	stdExampleX = "11010519491231002X"
	stdExample4 = "440524188001010014"
)

// fakeID makes an ID number that passes the check: region, birth date
// (yyyymmdd), 3-digit sequence, and the computed check character.
func fakeID(t testing.TB, region, birth string, seq int) string {
	t.Helper()
	first := fmt.Sprintf("%s%s%03d", region, birth, seq)
	return first + string(roster.CheckDigit(first))
}

func TestCheckDigitStandardExamples(t *testing.T) {
	for _, id := range []string{stdExampleX, stdExample4} {
		if got := roster.CheckDigit(id[:17]); got != id[17] {
			t.Errorf("CheckDigit(%s) = %c; want %c", id[:17], got, id[17])
		}
	}
}

func TestCheckIDNumber(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		problem roster.IDProblem
	}{
		{stdExampleX, stdExampleX, 0},
		{stdExample4, stdExample4, 0},
		{"11010519491231002x", stdExampleX, 0},            // lower-case x accepted, normalised
		{"  11010519491231002X\r\n", stdExampleX, 0},      // scanner's Enter
		{"１１０１０５１９４９１２３１００２ｘ", stdExampleX, 0},            // full-width input method
		{"110105194912310021", "", roster.IDCheckDigit},   // wrong check digit
		{"440524188001010015", "", roster.IDCheckDigit},   // wrong check digit
		{"110105194912310029", "", roster.IDCheckDigit},   // digit where X is due
		{"110105491231002", "", roster.IDLegacy15},        // first-generation number
		{"11010519491231002", "", roster.IDLength},        // 17 characters
		{"11010519491231002X1", "", roster.IDLength},      // 19 characters
		{"", "", roster.IDEmpty},                          // nothing
		{"1101051949123100XX", "", roster.IDCharacters},   // X inside
		{"11010519491231002Y", "", roster.IDCharacters},   // letter
		{"110105-19491231-002X", "", roster.IDCharacters}, // separators
		{"3.30102E+17", "", roster.IDExcelNumber},         // what Excel makes of it
		{"110105194902300023", "", roster.IDBirthDate},    // 30 February (and a valid-looking tail)
		{"011105194912310020", "", roster.IDCharacters},   // region cannot start with 0
	}
	for _, tt := range tests {
		got, err := roster.CheckIDNumber(tt.in)
		if tt.problem == 0 {
			if err != nil || got != tt.want {
				t.Errorf("CheckIDNumber(%q) = %q, %v; want %q, nil", tt.in, got, err, tt.want)
			}
			continue
		}
		var ie *roster.IDError
		if !errors.As(err, &ie) || ie.Problem != tt.problem || !errors.Is(err, roster.ErrBadIDNumber) {
			t.Errorf("CheckIDNumber(%q) = %q, %v; want problem %d", tt.in, got, err, tt.problem)
			continue
		}
		if got != "" {
			t.Errorf("CheckIDNumber(%q) returned %q with an error", tt.in, got)
		}
		msg := err.Error()
		if len(strings.TrimSpace(tt.in)) >= 15 && strings.Contains(msg, strings.TrimSpace(tt.in)) {
			t.Errorf("CheckIDNumber(%q): message %q contains the number", tt.in, msg)
		}
		if !strings.Contains(msg, " / ") {
			t.Errorf("CheckIDNumber(%q): message %q is not zh / en", tt.in, msg)
		}
	}
}

func TestCheckIDNumberLegacyMessage(t *testing.T) {
	_, err := roster.CheckIDNumber("110105491231002")
	if err == nil || !strings.Contains(err.Error(), "15") || !strings.Contains(err.Error(), "18") {
		t.Fatalf("legacy number: %v; want a message naming 15 and 18 digits", err)
	}
}

// TestCheckIDNumberEveryTypo changes each digit of a valid number in turn:
// the GB 11643 check catches every single-digit error.
func TestCheckIDNumberEveryTypo(t *testing.T) {
	id := fakeID(t, "330106", "20040229", 37)
	if _, err := roster.CheckIDNumber(id); err != nil {
		t.Fatalf("CheckIDNumber(fake) = %v", err)
	}
	for i := range 17 {
		for d := byte('0'); d <= '9'; d++ {
			if d == id[i] {
				continue
			}
			typo := id[:i] + string(d) + id[i+1:]
			if _, err := roster.CheckIDNumber(typo); err == nil {
				t.Errorf("typo at %d (%c→%c) accepted", i, id[i], d)
			}
		}
	}
}
