package roster

import (
	"bufio"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// PIN hashing parameters. PBKDF2-HMAC-SHA256 with 600,000 iterations is
// OWASP's 2023 figure for that function; a hash names its own iteration
// count, so raising the default later keeps old hashes valid.
const (
	DefaultPINIterations = 600_000
	minPINIterations     = 1_000      // refuse hashes too cheap to mean anything
	maxPINIterations     = 10_000_000 // refuse hashes that would stall sign-in
	pinSaltSize          = 16
	pinHashSize          = 32
	pinHashScheme        = "pbkdf2-sha256"
	MinPINLength         = 6
	MaxPINLength         = 12
	maxOperatorsLine     = 4 << 10
	maxOperators         = 1000
)

// Errors of PINs and sign-in.
var (
	ErrBadPIN = fmt.Errorf("PIN 应为 %d 到 %d 位数字 / a PIN is %d to %d digits", MinPINLength, MaxPINLength, MinPINLength, MaxPINLength)
	// ErrSignIn is the one answer to a wrong operator ID or a wrong PIN, so
	// the screen does not tell which operator IDs exist.
	ErrSignIn = errors.New("工号或 PIN 不正确 / wrong operator ID or PIN")
)

// HashPIN returns a password hash of pin for the operators file:
// pbkdf2-sha256$<iterations>$<salt>$<hash>, salt and hash in unpadded
// standard base64. iterations 0 means DefaultPINIterations. This is what
// `kioskd operator` prints.
func HashPIN(pin string, iterations int) (string, error) {
	if err := checkPIN(pin); err != nil {
		return "", err
	}
	if iterations == 0 {
		iterations = DefaultPINIterations
	}
	if iterations < minPINIterations || iterations > maxPINIterations {
		return "", fmt.Errorf("hash PIN: %d iterations is outside %d..%d", iterations, minPINIterations, maxPINIterations)
	}
	salt := make([]byte, pinSaltSize)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash PIN: %w", err)
	}
	dk, err := pbkdf2.Key(sha256.New, pin, salt, iterations, pinHashSize)
	if err != nil {
		return "", fmt.Errorf("hash PIN: %w", err)
	}
	enc := base64.RawStdEncoding
	return pinHashScheme + "$" + strconv.Itoa(iterations) + "$" + enc.EncodeToString(salt) + "$" + enc.EncodeToString(dk), nil
}

func checkPIN(pin string) error {
	if len(pin) < MinPINLength || len(pin) > MaxPINLength {
		return ErrBadPIN
	}
	for i := 0; i < len(pin); i++ {
		if pin[i] < '0' || pin[i] > '9' {
			return ErrBadPIN
		}
	}
	return nil
}

// pinHash is a parsed hash from the operators file.
type pinHash struct {
	iterations int
	salt, dk   []byte
}

func parsePINHash(s string) (pinHash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 4 || parts[0] != pinHashScheme {
		return pinHash{}, fmt.Errorf("PIN hash must look like %s$<iterations>$<salt>$<hash> (make one with kioskd operator)", pinHashScheme)
	}
	n, err := strconv.Atoi(parts[1])
	if err != nil || n < minPINIterations || n > maxPINIterations {
		return pinHash{}, fmt.Errorf("PIN hash iterations %q: want a number from %d to %d", clip(parts[1], 12), minPINIterations, maxPINIterations)
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[2])
	if err != nil || len(salt) < 8 || len(salt) > 64 {
		return pinHash{}, errors.New("PIN hash salt: want 8 to 64 bytes of unpadded base64")
	}
	dk, err := base64.RawStdEncoding.DecodeString(parts[3])
	if err != nil || len(dk) != pinHashSize {
		return pinHash{}, fmt.Errorf("PIN hash: want %d bytes of unpadded base64", pinHashSize)
	}
	return pinHash{iterations: n, salt: salt, dk: dk}, nil
}

func (h pinHash) verify(pin string) bool {
	dk, err := pbkdf2.Key(sha256.New, pin, h.salt, h.iterations, len(h.dk))
	return err == nil && subtle.ConstantTimeCompare(dk, h.dk) == 1
}

// Operator is a person allowed to run the booth.
type Operator struct {
	ID   string // short login, e.g. "op01"
	Name string // shown on screen and stored in records as who captured
	hash pinHash
}

// Operators is the parsed operators file.
type Operators struct {
	list  []Operator
	byID  map[string]int
	dummy pinHash // verified against for unknown IDs, so both cost the same
}

// LoadOperators reads the operators file at path (format in the package
// doc). A file that group or others may write is refused: whoever can
// write it can add an operator.
func LoadOperators(path string) (*Operators, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("operators file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("operators file: %w", err)
	}
	if perm := st.Mode().Perm(); perm&0o022 != 0 {
		return nil, fmt.Errorf("operators file %s: mode %04o lets group or others change it; run chmod 600 on it", path, perm)
	}
	ops, err := ParseOperators(f)
	if err != nil {
		return nil, fmt.Errorf("operators file %s: %w", path, err)
	}
	return ops, nil
}

// ParseOperators parses an operators file: one operator per line as
//
//	<id> <PIN hash> <display name>
//
// separated by spaces or tabs, the name being the rest of the line; blank
// lines and lines starting with # are ignored. IDs are 1-32 of a-z 0-9 . _ -
// and unique. The first bad line fails the parse, with its line number.
func ParseOperators(r io.Reader) (*Operators, error) {
	ops := &Operators{byID: map[string]int{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1024), maxOperatorsLine)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if line == 1 {
			text = strings.TrimPrefix(text, "\uFEFF")
		}
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		op, err := parseOperatorLine(text)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if _, dup := ops.byID[op.ID]; dup {
			return nil, fmt.Errorf("line %d: operator %q appears twice", line, op.ID)
		}
		if len(ops.list) >= maxOperators {
			return nil, fmt.Errorf("line %d: more than %d operators", line, maxOperators)
		}
		ops.byID[op.ID] = len(ops.list)
		ops.list = append(ops.list, op)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("line %d: longer than %d bytes", line+1, maxOperatorsLine)
		}
		return nil, err
	}
	if len(ops.list) == 0 {
		return nil, errors.New("no operators: add one line per operator (make the PIN hash with kioskd operator)")
	}
	ops.dummy = ops.list[0].hash
	return ops, nil
}

func parseOperatorLine(text string) (Operator, error) {
	i := strings.IndexAny(text, " \t")
	if i < 0 {
		return Operator{}, errors.New("want <id> <PIN hash> <name>")
	}
	id, rest := text[:i], strings.TrimLeft(text[i+1:], " \t")
	hash, name := rest, ""
	if i := strings.IndexAny(rest, " \t"); i >= 0 {
		hash, name = rest[:i], strings.TrimSpace(rest[i+1:])
	}
	if !validOperatorID(id) {
		return Operator{}, fmt.Errorf("operator ID %q: want 1-32 of a-z 0-9 . _ -", clip(id, 40))
	}
	h, err := parsePINHash(hash)
	if err != nil {
		return Operator{}, fmt.Errorf("operator %s: %w", id, err)
	}
	if name == "" {
		return Operator{}, fmt.Errorf("operator %s: the display name is missing", id)
	}
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > 64 || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return Operator{}, fmt.Errorf("operator %s: the display name must be valid UTF-8 text of at most 64 characters", id)
	}
	return Operator{ID: id, Name: name, hash: h}, nil
}

func validOperatorID(id string) bool {
	if id == "" || len(id) > 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// SignIn checks an operator's PIN. A wrong PIN and an unknown ID both
// return ErrSignIn after the same work. It costs one PIN hash (about a
// quarter of a second on a booth), which also slows guessing; the caller
// should still limit attempts.
func (o *Operators) SignIn(id, pin string) (Operator, error) {
	i, ok := o.byID[strings.TrimSpace(id)]
	if !ok {
		o.dummy.verify(pin)
		return Operator{}, ErrSignIn
	}
	op := o.list[i]
	if !op.hash.verify(pin) {
		return Operator{}, ErrSignIn
	}
	return op, nil
}

// List returns the operators in file order.
func (o *Operators) List() []Operator {
	out := make([]Operator, len(o.list))
	copy(out, o.list)
	return out
}
