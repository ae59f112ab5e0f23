// Package stack grows a goroutine's stack ahead of deep calls.
//
// A goroutine starts with a small stack, and each time a call outgrows it the runtime copies
// the stack to one twice the size and adjusts every frame on it: the deeper the call when it
// happens, the more it costs. Goroutines that are started per request or per batch and then go
// deep (the HTTP/2 server's request goroutines, the worker's grouped steps) pay that again each
// time. Reserve, called first thing on such a goroutine, makes the one growth happen while the
// stack holds only a few frames.
package stack

// ReserveBytes is the frame Reserve makes room for: the stack grows to the next power of two
// that holds it with what is already on the stack (32 KiB for a new goroutine).
const ReserveBytes = 16 << 10

// Reserve grows the calling goroutine's stack to hold a frame of ReserveBytes, if it does not
// already. The runtime may shrink the stack again at a garbage collection if the goroutine
// lives on and uses less.
func Reserve() { _ = frame(0) }

// frame has a frame of ReserveBytes, which the runtime makes room for on entry. The index
// keeps the compiler from dropping the array.
//
//go:noinline
func frame(i int) byte {
	var f [ReserveBytes]byte
	f[i%ReserveBytes] = 1
	return f[(i+1)%ReserveBytes]
}
