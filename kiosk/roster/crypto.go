package roster

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// keySize is the size of the station key file and of every derived key.
const keySize = 32

const (
	nonceSize   = 12
	gcmOverhead = 16
)

// keys are the roster's purpose-bound keys, derived from the station key
// file with HMAC-SHA256 under labels of their own ("kioskd/roster/v1/..."),
// so they never equal the queue's keys derived from the same file.
type keys struct {
	field   cipher.AEAD
	student []byte // ID number → lookup key
	code    []byte // collection code → index key
	digest  []byte // row content → change detection
	id      string // public fingerprint kept in meta to detect a swapped key file
}

func deriveKeys(master []byte) (*keys, error) {
	sub := func(label string) []byte {
		m := hmac.New(sha256.New, master)
		m.Write([]byte("kioskd/roster/v1/" + label))
		return m.Sum(nil)
	}
	block, err := aes.NewCipher(sub("field"))
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	field, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("gcm: %w", err)
	}
	return &keys{
		field:   field,
		student: sub("student"),
		code:    sub("code"),
		digest:  sub("digest"),
		id:      hex.EncodeToString(sub("key-id")[:8]),
	}, nil
}

func mac(key []byte, parts ...string) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

// macN is mac cut to n bytes.
func macN(n int, key []byte, parts ...string) []byte { return mac(key, parts...)[:n] }

// studentKey is the 32-byte bbolt key of a normalised ID number.
func (k *keys) studentKey(idNumber string) []byte { return mac(k.student, idNumber) }

// codeKey is the 32-byte index key of a collection code.
func (k *keys) codeKey(code string) []byte { return mac(k.code, code) }

// rowDigest is a keyed hash of everything a source says about a student,
// so a re-import can tell an unchanged row without decrypting it.
func (k *keys) rowDigest(r *Row) []byte {
	return macN(16, k.digest, r.IDNumber, r.Name, r.StudentNumber, r.School, r.Major,
		fmt.Sprint(r.GraduationYear), string(r.Status), r.Reason, r.Code)
}

// fieldAAD binds a sealed field to its name and its student.
func fieldAAD(field string, key []byte) []byte {
	return append([]byte("kioskd/roster/v1/field\x00"+field+"\x00"), key...)
}

func (k *keys) seal(field string, key []byte, plain string) ([]byte, error) {
	out := make([]byte, nonceSize, nonceSize+len(plain)+gcmOverhead)
	if _, err := rand.Read(out); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	return k.field.Seal(out, out, []byte(plain), fieldAAD(field, key)), nil
}

func (k *keys) open(field string, key, sealed []byte) (string, error) {
	if len(sealed) < nonceSize+gcmOverhead {
		return "", fmt.Errorf("%s: %w: too short", field, ErrCorrupt)
	}
	plain, err := k.field.Open(nil, sealed[:nonceSize], sealed[nonceSize:], fieldAAD(field, key))
	if err != nil {
		return "", fmt.Errorf("%s: %w: authentication failed", field, ErrCorrupt)
	}
	return string(plain), nil
}
