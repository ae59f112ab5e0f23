package stack

import (
	"testing"
)

// deep recurses n frames of about 256 bytes each and returns something the compiler cannot
// drop.
//
//go:noinline
func deep(n int) byte {
	var pad [256]byte
	pad[n%len(pad)] = byte(n)
	if n == 0 {
		return pad[0]
	}
	return deep(n-1) + pad[(n+1)%len(pad)]
}

// BenchmarkReserve runs a 12 KiB-deep call on a new goroutine each time, as the HTTP/2 server
// runs a request: bare, the goroutine's stack grows (and is copied) at depth; after Reserve,
// once at the top. Compare the two sub-benchmarks' ns/op.
func BenchmarkReserve(b *testing.B) {
	for _, bc := range []struct {
		name    string
		reserve bool
	}{{"bare", false}, {"reserved", true}} {
		b.Run(bc.name, func(b *testing.B) {
			done := make(chan byte)
			for b.Loop() {
				go func() {
					if bc.reserve {
						Reserve()
					}
					done <- deep(48)
				}()
				<-done
			}
		})
	}
}

// TestFrame: the frame writes and reads its own bytes only.
func TestFrame(t *testing.T) {
	if frame(ReserveBytes-1) != 0 || frame(5) != 0 {
		t.Fatal("frame read a byte it did not write")
	}
	Reserve()
}
