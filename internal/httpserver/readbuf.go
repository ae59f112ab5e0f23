package httpserver

import (
	"bufio"
	"io"
	"net"
)

// readBufferSize is the read buffer of each cleartext connection (readBufferedListener): the
// size of net/http's own HTTP/1 read buffer. It holds some twenty unary calls' frames; a
// larger DATA frame's payload bypasses it.
const readBufferSize = 4 << 10

// readBufferedListener hands out connections whose reads go through a buffer.
//
// The standard library's HTTP/2 server reads its frames straight from the connection: two read
// system calls per frame (the 9-byte header, then the payload), so a unary call (a HEADERS and a
// DATA frame) costs four or five reads, each a system call and, on a virtual machine, an exit
// to the host. Measured on the flat-out trigger-to-done run: 4.9 reads on the client's
// connection per TriggerWorkflow call. Through a buffer, one read takes whatever the client has
// sent (often several calls' frames at once when 64 are in flight).
//
// Only cleartext connections are wrapped: crypto/tls already reads whole records into a buffer
// of its own. HTTP/1 connections keep their own bufio.Reader on top, which reads at least 4 KiB
// at a time and so passes through this buffer without a copy (bufio.Reader.Read reads straight
// into a destination at least as large as its buffer, when it is empty).
type readBufferedListener struct {
	net.Listener
}

func (l readBufferedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newReadBufferedConn(c), nil
}

// readBufferedConn is a net.Conn whose Read goes through a bufio.Reader. Everything else is the
// connection's own; CloseWrite and ReadFrom, which net/http looks for on a *net.TCPConn (the
// half-close after an HTTP/1 error reply, sendfile for a file body), are passed through.
type readBufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func newReadBufferedConn(c net.Conn) *readBufferedConn {
	return &readBufferedConn{Conn: c, r: bufio.NewReaderSize(c, readBufferSize)}
}

func (c *readBufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// CloseWrite shuts down the writing side, when the connection can (a TCP connection can).
func (c *readBufferedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ReadFrom writes what r holds to the connection, by the connection's own ReadFrom when it has
// one (sendfile or splice on a TCP connection).
func (c *readBufferedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}
