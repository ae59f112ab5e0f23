package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TLSFiles are a certificate and its key in PEM files. The certificate is self-signed and its
// own authority, for 127.0.0.1, ::1 and localhost: Cert also serves as the CA file.
type TLSFiles struct {
	Cert, Key string
	serial    *big.Int
}

// Serial is the certificate's serial number, to tell two certificates apart.
func (f *TLSFiles) Serial() *big.Int { return f.serial }

// NewTLSFiles writes a fresh self-signed certificate and key into dir (a t.TempDir() when dir is
// empty), overwriting cert.pem and key.pem there.
func NewTLSFiles(t testing.TB, dir string) *TLSFiles {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "workflow-runtime test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	f := &TLSFiles{Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem"), serial: serial}
	write := func(path, typ string, der []byte) {
		// Written aside and renamed, so a reader never sees half a file.
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write(f.Key, "EC PRIVATE KEY", keyDER)
	write(f.Cert, "CERTIFICATE", der)
	return f
}

// ClientConfig trusts the certificate (and nothing else).
func (f *TLSFiles) ClientConfig(t testing.TB) *tls.Config {
	t.Helper()
	data, err := os.ReadFile(f.Cert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		t.Fatal("no certificate in " + f.Cert)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}
