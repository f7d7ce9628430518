package roster_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kioskd/kiosk/roster"
)

// fastIterations keeps PIN hashing quick in tests; the format carries the
// count, so verification is the same code as with the default.
const fastIterations = 1000

func hashPIN(t testing.TB, pin string) string {
	t.Helper()
	h, err := roster.HashPIN(pin, fastIterations)
	if err != nil {
		t.Fatalf("HashPIN: %v", err)
	}
	return h
}

func TestHashPIN(t *testing.T) {
	h1, h2 := hashPIN(t, "246810"), hashPIN(t, "246810")
	if h1 == h2 {
		t.Error("two hashes of one PIN are equal: the salt is not random")
	}
	if !strings.HasPrefix(h1, "pbkdf2-sha256$1000$") || strings.Contains(h1, "246810") {
		t.Errorf("HashPIN = %q", h1)
	}
	for _, bad := range []string{"", "12345", "1234567890123", "12345a", "１２３４５６", "123 456"} {
		if _, err := roster.HashPIN(bad, fastIterations); !errors.Is(err, roster.ErrBadPIN) {
			t.Errorf("HashPIN(%q) = %v; want ErrBadPIN", bad, err)
		}
	}
	if _, err := roster.HashPIN("246810", 10); err == nil {
		t.Error("HashPIN with 10 iterations succeeded")
	}
	if testing.Short() {
		return
	}
	h, err := roster.HashPIN("246810", 0)
	if err != nil || !strings.HasPrefix(h, fmt.Sprintf("pbkdf2-sha256$%d$", roster.DefaultPINIterations)) {
		t.Errorf("HashPIN(default) = %q, %v", h, err)
	}
}

func TestOperators(t *testing.T) {
	file := "\uFEFF# kioskd operators\n\n" +
		"op01 " + hashPIN(t, "135790") + " 王老师\n" +
		"op.02\t" + hashPIN(t, "24681012") + "\t李 工作人员 (B 区)\n"
	path := filepath.Join(t.TempDir(), "operators")
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	ops, err := roster.LoadOperators(path)
	if err != nil {
		t.Fatal(err)
	}
	if l := ops.List(); len(l) != 2 || l[0].ID != "op01" || l[0].Name != "王老师" || l[1].Name != "李 工作人员 (B 区)" {
		t.Fatalf("List = %+v", l)
	}
	tests := []struct {
		id, pin string
		ok      bool
	}{
		{"op01", "135790", true},
		{" op01 ", "135790", true},
		{"op.02", "24681012", true},
		{"op01", "135791", false},
		{"op01", "24681012", false}, // another operator's PIN
		{"op03", "135790", false},   // unknown ID
		{"OP01", "135790", false},   // IDs are lower case
		{"op01", "", false},
	}
	for _, tt := range tests {
		op, err := ops.SignIn(tt.id, tt.pin)
		if tt.ok != (err == nil) || (!tt.ok && !errors.Is(err, roster.ErrSignIn)) {
			t.Errorf("SignIn(%q, %q) = %v; want ok %v", tt.id, tt.pin, err, tt.ok)
		}
		if tt.ok && op.ID != strings.TrimSpace(tt.id) {
			t.Errorf("SignIn(%q) = operator %q", tt.id, op.ID)
		}
	}
	if err := os.Chmod(path, 0o664); err != nil {
		t.Fatal(err)
	}
	if _, err := roster.LoadOperators(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("LoadOperators(group-writable) = %v; want a refusal", err)
	}
}

func TestParseOperatorsErrors(t *testing.T) {
	h := hashPIN(t, "135790")
	tests := []struct {
		name, file, says string
	}{
		{"empty", "", "no operators"},
		{"comments-only", "# nobody\n\n", "no operators"},
		{"no-hash", "op01\n", "line 1"},
		{"no-name", "op01 " + h + "\n", "display name"},
		{"bad-id", "Op 01 " + h + " x\n", "operator ID"},
		{"plain-pin", "op01 135790 王老师\n", "PIN hash"},
		{"duplicate", "op01 " + h + " a\n# c\nop01 " + h + " b\n", "line 3"},
		{"bad-scheme", "op01 " + strings.Replace(h, "pbkdf2-sha256", "md5", 1) + " a\n", "PIN hash"},
		{"huge-iterations", "op01 " + strings.Replace(h, "$1000$", "$2000000000$", 1) + " a\n", "iterations"},
		{"short-hash", "op01 " + h[:len(h)-4] + " a\n", "PIN hash"},
		{"long-line", "op01 " + h + " " + strings.Repeat("名", 5000) + "\n", "longer than"},
		{"long-name", "op01 " + h + " " + strings.Repeat("名", 65) + "\n", "64 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops, err := roster.ParseOperators(strings.NewReader(tt.file))
			if err == nil || ops != nil {
				t.Fatalf("ParseOperators = %v, nil; want an error saying %q", ops, tt.says)
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("ParseOperators error %q does not say %q", err, tt.says)
			}
		})
	}
}
