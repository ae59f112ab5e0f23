package httpserver

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"time"
)

// certReloader serves the certificate in certFile and keyFile and loads them again when either
// file's modification time or size changes (a renewal by cert-manager, certbot or a mounted
// Secret's update), checked at each TLS handshake: a stat of two files costs microseconds next to
// the handshake. A pair that does not load (a renewal caught half-written) keeps the previous one
// in force until the files change again.
type certReloader struct {
	certFile, keyFile string

	mu    sync.Mutex
	cert  *tls.Certificate
	stamp [2]fileStamp
	err   error // why the current files did not load
}

type fileStamp struct {
	mod  time.Time
	size int64
}

func newCertReloader(certFile, keyFile string) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile}
	if _, err := r.get(); err != nil {
		return nil, err
	}
	return r, nil
}

func stamp(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{mod: fi.ModTime(), size: fi.Size()}, nil
}

// get returns the certificate, loading it again when the files changed.
func (r *certReloader) get() (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cs, err1 := stamp(r.certFile)
	ks, err2 := stamp(r.keyFile)
	now := [2]fileStamp{cs, ks}
	if err1 == nil && err2 == nil && now != r.stamp {
		r.stamp = now
		cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
		if err != nil {
			r.err = fmt.Errorf("load TLS certificate %s: %w", r.certFile, err)
		} else {
			r.cert, r.err = &cert, nil
		}
	}
	if r.cert == nil {
		if r.err == nil {
			r.err = fmt.Errorf("load TLS certificate %s: %w", r.certFile, firstErr(err1, err2))
		}
		return nil, r.err
	}
	return r.cert, nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// tlsConfig is the server's TLS configuration: TLS 1.2 or later, HTTP/2 and HTTP/1.1 by ALPN.
func (r *certReloader) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return r.get() },
	}
}
