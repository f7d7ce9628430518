package queue

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// keySize is the size of queue.key and of every key derived from it.
const keySize = 32

// blobMagic starts every blob file: format version 1 is
// magic || 12-byte nonce || AES-256-GCM(plaintext) with the tag at the end.
var blobMagic = []byte("KQB1")

const (
	nonceSize   = 12
	blobHeader  = 4 + nonceSize
	gcmOverhead = 16
)

// keys are the purpose-bound keys derived from queue.key with HMAC-SHA256,
// so the blob key, the field key and the student lookup key never meet.
type keys struct {
	blob    cipher.AEAD
	field   cipher.AEAD
	student []byte
	id      string // a short public fingerprint stored in meta to detect a swapped key file
}

func deriveKeys(master []byte) (*keys, error) {
	sub := func(label string) []byte {
		m := hmac.New(sha256.New, master)
		m.Write([]byte("kioskd/queue/v1/" + label))
		return m.Sum(nil)
	}
	blob, err := newGCM(sub("blob"))
	if err != nil {
		return nil, err
	}
	field, err := newGCM(sub("field"))
	if err != nil {
		return nil, err
	}
	return &keys{
		blob:    blob,
		field:   field,
		student: sub("student"),
		id:      hex.EncodeToString(sub("key-id")[:8]),
	}, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	return cipher.NewGCM(block)
}

// normalizeID is the form of an identifier that is hashed and encrypted:
// surrounding space removed, the check character X in upper case.
func normalizeID(id string) string {
	return strings.ToUpper(strings.TrimSpace(id))
}

// studentKey is HMAC-SHA256(student key, normalized identifier) in hex.
// ID numbers have little entropy (a birth date, a region, a checksum): an
// unkeyed hash could be reversed by trying them all, a keyed one cannot
// without queue.key.
func (k *keys) studentKey(idNumber string) string {
	m := hmac.New(sha256.New, k.student)
	m.Write([]byte(normalizeID(idNumber)))
	return hex.EncodeToString(m.Sum(nil))
}

// fieldAAD binds a sealed field to its name and its student, so a sealed
// name cannot be passed off as an ID number or moved to another student.
func fieldAAD(field, studentKey string) []byte {
	return []byte("kioskd/queue/v1/field\x00" + field + "\x00" + studentKey)
}

func (k *keys) seal(field, studentKey, plain string) ([]byte, error) {
	out := make([]byte, nonceSize, nonceSize+len(plain)+gcmOverhead)
	if _, err := rand.Read(out); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	return k.field.Seal(out, out, []byte(plain), fieldAAD(field, studentKey)), nil
}

func (k *keys) open(field, studentKey string, sealed []byte) (string, error) {
	if len(sealed) < nonceSize+gcmOverhead {
		return "", fmt.Errorf("%s: %w: too short", field, ErrCorrupt)
	}
	plain, err := k.field.Open(nil, sealed[:nonceSize], sealed[nonceSize:], fieldAAD(field, studentKey))
	if err != nil {
		return "", fmt.Errorf("%s: %w: authentication failed", field, ErrCorrupt)
	}
	return string(plain), nil
}

// blobAAD binds a blob file to the SHA-256 of its plaintext, the hash that
// names it: a file copied over another's name fails to decrypt.
func blobAAD(sum []byte) []byte {
	return append([]byte("kioskd/queue/v1/blob\x00"), sum...)
}

// sealBlob returns the file content for plain, whose SHA-256 is sum.
func (k *keys) sealBlob(plain, sum []byte) ([]byte, error) {
	out := make([]byte, blobHeader, blobHeader+len(plain)+gcmOverhead)
	copy(out, blobMagic)
	if _, err := rand.Read(out[4:blobHeader]); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	return k.blob.Seal(out, out[4:blobHeader], plain, blobAAD(sum)), nil
}

// openBlob decrypts a blob file's content and checks it against ref.
func (k *keys) openBlob(file []byte, ref BlobRef) ([]byte, error) {
	sum, err := hex.DecodeString(ref.SHA256)
	if err != nil || len(sum) != sha256.Size {
		return nil, fmt.Errorf("blob %q: %w: bad reference", ref.SHA256, ErrCorrupt)
	}
	if len(file) < blobHeader+gcmOverhead || string(file[:4]) != string(blobMagic) {
		return nil, fmt.Errorf("blob %s: %w: not a sealed blob", short(ref.SHA256), ErrCorrupt)
	}
	plain, err := k.blob.Open(nil, file[4:blobHeader], file[blobHeader:], blobAAD(sum))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w: authentication failed (changed, or another blob's file)", short(ref.SHA256), ErrCorrupt)
	}
	got := sha256.Sum256(plain)
	if !hmac.Equal(got[:], sum) {
		return nil, fmt.Errorf("blob %s: %w: SHA-256 mismatch", short(ref.SHA256), ErrCorrupt)
	}
	if int64(len(plain)) != ref.Size {
		return nil, fmt.Errorf("blob %s: %w: size %d, want %d", short(ref.SHA256), ErrCorrupt, len(plain), ref.Size)
	}
	return plain, nil
}

func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	return sum
}

// Mask returns id with all but its first four and last four characters
// replaced by '*' (3301**********123X for an 18-digit ID number); shorter
// identifiers keep less, and one of eight characters or fewer keeps only its
// last two. Mask is what screens and logs may show.
func Mask(id string) string {
	r := []rune(normalizeID(id))
	keepHead, keepTail := 4, 4
	switch {
	case len(r) <= 2:
		return strings.Repeat("*", len(r))
	case len(r) <= 8:
		keepHead, keepTail = 0, 2
	case len(r) < 14:
		keepHead, keepTail = 2, 2
	}
	for i := keepHead; i < len(r)-keepTail; i++ {
		r[i] = '*'
	}
	return string(r)
}
