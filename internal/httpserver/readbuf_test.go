package httpserver

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/matryer/is"
)

// countingConn counts the reads that reach the connection.
type countingConn struct {
	net.Conn
	reads int
}

func (c *countingConn) Read(p []byte) (int, error) {
	c.reads++
	return c.Conn.Read(p)
}

// tcpPair is both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = (&net.Dialer{}).DialContext(t.Context(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { _ = client.Close(); _ = server.Close() })
	return client, server
}

// TestReadBufferedConnReadsFramesInOneCall reads frames the way the HTTP/2 framer does (a
// 9-byte header, then the payload, each with io.ReadFull) from bytes that arrived together:
// the buffered connection makes one read of the socket for all of them, the bare one two per
// frame.
func TestReadBufferedConnReadsFramesInOneCall(t *testing.T) {
	is := is.New(t)
	const frames = 8
	var sent bytes.Buffer
	for i := range frames {
		sent.WriteString(strings.Repeat("h", 9))
		sent.WriteString(strings.Repeat(string(rune('a'+i)), 40))
	}
	readFrames := func(c net.Conn) []byte {
		var got bytes.Buffer
		header, payload := make([]byte, 9), make([]byte, 40)
		for range frames {
			_, err := io.ReadFull(c, header)
			is.NoErr(err)
			_, err = io.ReadFull(c, payload)
			is.NoErr(err)
			got.Write(header)
			got.Write(payload)
		}
		return got.Bytes()
	}

	client, server := tcpPair(t)
	_, err := client.Write(sent.Bytes())
	is.NoErr(err)
	counted := &countingConn{Conn: server}
	got := readFrames(newReadBufferedConn(counted))
	is.Equal(got, sent.Bytes())
	// The write was small enough to arrive as one segment; a second read could only mean the
	// buffer was bypassed.
	is.Equal(counted.reads, 1)

	client, server = tcpPair(t)
	_, err = client.Write(sent.Bytes())
	is.NoErr(err)
	bare := &countingConn{Conn: server}
	is.Equal(readFrames(bare), sent.Bytes())
	is.Equal(bare.reads, 2*frames) // what the buffer saves
}

// TestReadBufferedConnPassesThrough checks the calls net/http makes on a TCP connection:
// CloseWrite half-closes (the peer reads EOF, and can still write), ReadFrom writes the reader's
// bytes, and the addresses and deadlines are the connection's own.
func TestReadBufferedConnPassesThrough(t *testing.T) {
	is := is.New(t)
	client, server := tcpPair(t)
	c := newReadBufferedConn(server)
	is.Equal(c.LocalAddr().String(), server.LocalAddr().String())

	n, err := c.ReadFrom(strings.NewReader("reply body"))
	is.NoErr(err)
	is.Equal(n, int64(len("reply body")))
	is.NoErr(c.CloseWrite())
	got, err := io.ReadAll(client) // ends at the half-close
	is.NoErr(err)
	is.Equal(string(got), "reply body")

	_, err = client.Write([]byte("still open"))
	is.NoErr(err)
	buf := make([]byte, len("still open"))
	_, err = io.ReadFull(c, buf)
	is.NoErr(err)
	is.Equal(string(buf), "still open")

	// A connection without CloseWrite or ReadFrom (net.Pipe): CloseWrite does nothing and
	// ReadFrom copies.
	a, b := net.Pipe()
	defer func() { _ = a.Close(); _ = b.Close() }()
	pc := newReadBufferedConn(a)
	is.NoErr(pc.CloseWrite())
	done := make(chan []byte)
	go func() {
		p := make([]byte, 5)
		_, _ = io.ReadFull(b, p)
		done <- p
	}()
	n, err = pc.ReadFrom(strings.NewReader("piped"))
	is.NoErr(err)
	is.Equal(n, int64(5))
	is.Equal(string(<-done), "piped")
}

// TestReadBufferedListenerWraps: the listener hands out connections that read through the
// buffer, and a closed listener's error as it is.
func TestReadBufferedListenerWraps(t *testing.T) {
	is := is.New(t)
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	is.NoErr(err)
	l := readBufferedListener{ln}
	defer func() { _ = l.Close() }()
	go func() {
		c, err := (&net.Dialer{}).DialContext(t.Context(), "tcp", ln.Addr().String())
		if err == nil {
			_, _ = c.Write([]byte("x"))
			_ = c.Close()
		}
	}()
	c, err := l.Accept()
	is.NoErr(err)
	defer func() { _ = c.Close() }()
	_, ok := c.(*readBufferedConn)
	is.True(ok)
	b := make([]byte, 1)
	_, err = io.ReadFull(c, b)
	is.NoErr(err)
	is.Equal(string(b), "x")

	is.NoErr(l.Close())
	_, err = l.Accept()
	is.True(err != nil) // a closed listener's error is returned, not a wrapped nil conn
}
