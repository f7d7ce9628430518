package roster

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
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

// loadKey reads the station key file, with the queue's rules: a regular
// file of 32 bytes that group and others cannot read. When it is missing
// and create is set (the roster holds no data yet), a new key is written
// atomically; an existing file is never replaced.
func loadKey(path string, create bool) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		if !create {
			return nil, fmt.Errorf("%w %s: missing, but the roster holds data sealed with it", ErrKeyFile, path)
		}
		return createKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrKeyFile, path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrKeyFile, path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w %s: not a regular file", ErrKeyFile, path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%w %s: mode %04o lets group or others read it; run chmod 600 on it", ErrKeyFile, path, perm)
	}
	if st.Size() != keySize {
		return nil, fmt.Errorf("%w %s: %d bytes, want %d", ErrKeyFile, path, st.Size(), keySize)
	}
	key := make([]byte, keySize)
	if _, err := io.ReadFull(f, key); err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrKeyFile, path, err)
	}
	return key, nil
}

func createKey(path string) ([]byte, error) {
	key := make([]byte, keySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("create key %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-key-*")
	if err != nil {
		return nil, fmt.Errorf("create key %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.Write(key)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// Link, not rename: if the queue made the key meanwhile, keep its key.
		err = os.Link(tmp, path)
	}
	if errors.Is(err, fs.ErrExist) {
		return loadKey(path, false)
	}
	if err != nil {
		return nil, fmt.Errorf("create key %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("create key %s: %w", path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return nil, fmt.Errorf("create key %s: %w", path, err)
	}
	return key, nil
}
