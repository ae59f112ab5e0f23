package webhook

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// KeySize is the size of the secret-encryption key (AES-256).
const KeySize = 32

// boxVersion is the first byte of every sealed secret: the format (AES-256-GCM, 12-byte nonce,
// additional data boxAAD), so that another format can be told apart later.
const boxVersion = 1

// boxAAD is the additional data of every sealed secret: a ciphertext made for something else
// under the same key does not open as a webhook secret.
var boxAAD = []byte("workflow-runtime webhook secret v1")

// Box seals and opens webhook secrets with AES-256-GCM under one key (WFR_WEBHOOK_SECRET_KEY).
// A sealed secret is version byte || nonce (random, one per value) || ciphertext and tag.
type Box struct {
	aead cipher.AEAD
}

// NewBox returns a Box over a 32-byte key.
func NewBox(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("webhook secret key: %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("webhook secret key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("webhook secret key: %w", err)
	}
	return &Box{aead: aead}, nil
}

// NewBoxBase64 returns a Box over a standard-base64 32-byte key, as WFR_WEBHOOK_SECRET_KEY
// holds it (openssl rand -base64 32).
func NewBoxBase64(key string) (*Box, error) {
	raw, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		return nil, fmt.Errorf("webhook secret key: not base64: %w", err)
	}
	return NewBox(raw)
}

// Seal encrypts a secret under a fresh random nonce.
func (b *Box) Seal(secret []byte) ([]byte, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal webhook secret: %w", err)
	}
	out := make([]byte, 0, 1+len(nonce)+len(secret)+b.aead.Overhead())
	out = append(out, boxVersion)
	out = append(out, nonce...)
	return b.aead.Seal(out, nonce, secret, boxAAD), nil
}

// errSealed is Open's answer for anything that is not a secret sealed under this key.
var errSealed = errors.New("open webhook secret: not sealed under the configured key (was WFR_WEBHOOK_SECRET_KEY changed?)")

// Open decrypts what Seal made under the same key.
func (b *Box) Open(sealed []byte) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < 1+n+b.aead.Overhead() || sealed[0] != boxVersion {
		return nil, errSealed
	}
	secret, err := b.aead.Open(nil, sealed[1:1+n], sealed[1+n:], boxAAD)
	if err != nil {
		return nil, errSealed
	}
	return secret, nil
}
