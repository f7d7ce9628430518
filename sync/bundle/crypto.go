package bundle

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// HKDF info strings: one per purpose, so the file key, the index key and
// the public key ID never meet.
const (
	infoFile  = "kioskd/bundle/v1"
	infoIndex = "kioskd/bundle/v1/index"
	infoKeyID = "kioskd/bundle/v1/key-id"
)

// magic starts every encrypted file: magic || 12-byte nonce ||
// AES-256-GCM(plaintext) with the 16-byte tag at the end.
var magic = []byte("KBN1")

const (
	nonceSize = 12
	tagSize   = 16

	// Overhead is how many bytes an encrypted file adds to its plaintext.
	Overhead = 4 + nonceSize + tagSize // len(magic) + nonce + tag
)

// keys are the keys of one station's bundles, all derived from the SHA-256
// of its bearer token, which both the station and central hold.
type keys struct {
	file  cipher.AEAD
	index []byte // HMAC-SHA256 key of bundle.json
	id    string // public fingerprint written in the index: tells a wrong key from a tampered index
}

func deriveKeys(tokenSHA256 [32]byte) (*keys, error) {
	derive := func(info string, n int) ([]byte, error) {
		k, err := hkdf.Key(sha256.New, tokenSHA256[:], nil, info, n)
		if err != nil {
			return nil, fmt.Errorf("derive bundle key: %w", err)
		}
		return k, nil
	}
	fk, err := derive(infoFile, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(fk)
	if err != nil {
		return nil, fmt.Errorf("bundle cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("bundle cipher: %w", err)
	}
	ik, err := derive(infoIndex, 32)
	if err != nil {
		return nil, err
	}
	id, err := derive(infoKeyID, 8)
	if err != nil {
		return nil, err
	}
	return &keys{file: aead, index: ik, id: hex.EncodeToString(id)}, nil
}

// seal encrypts plaintext into a file body bound to aad.
func (k *keys) seal(plaintext []byte, aad string) []byte {
	out := make([]byte, len(magic)+nonceSize, len(magic)+nonceSize+len(plaintext)+tagSize)
	copy(out, magic)
	rand.Read(out[len(magic):]) // never fails (crypto/rand, Go 1.24+)
	return k.file.Seal(out, out[len(magic):], plaintext, []byte(aad))
}

var errOpen = errors.New("not a bundle file or not this key's")

// open decrypts a file body sealed with aad, in place: body is overwritten.
func (k *keys) open(body []byte, aad string) ([]byte, error) {
	if len(body) < Overhead || !bytes.Equal(body[:len(magic)], magic) {
		return nil, errOpen
	}
	nonce := body[len(magic) : len(magic)+nonceSize]
	ct := body[len(magic)+nonceSize:]
	pt, err := k.file.Open(ct[:0], nonce, ct, []byte(aad))
	if err != nil {
		return nil, errOpen
	}
	return pt, nil
}

// sign is the content of bundle.json.sig: the hex HMAC-SHA256 of the index
// and a newline.
func (k *keys) sign(index []byte) []byte {
	m := hmac.New(sha256.New, k.index)
	m.Write(index)
	return append([]byte(hex.EncodeToString(m.Sum(nil))), '\n')
}

// verify reports whether sig is sign(index), with or without the newline.
func (k *keys) verify(index, sig []byte) bool {
	want := k.sign(index)
	sig = bytes.TrimSuffix(sig, []byte("\n"))
	return hmac.Equal(want[:len(want)-1], sig)
}

func recordAAD(id string) string { return "record:" + id }
func blobAAD(sum string) string  { return "blob:" + sum }
