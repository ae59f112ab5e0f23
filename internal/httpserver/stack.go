package httpserver

import "net/http"

// stackReserve is the stack a request's goroutine is given before the handler stack runs
// (withStack).
const stackReserve = 16 << 10

// withStack grows the goroutine's stack to hold a frame of stackReserve bytes before it calls h.
//
// The HTTP/2 server runs each request on a new goroutine, which starts with a small stack. A
// unary call's handlers (OTel, the access log, recover, the size caps, protovalidate's
// recursive evaluators, the service) go deep enough to outgrow it one or more times, and each
// growth copies the stack and adjusts every frame on it, deepest when it happens deepest: on
// the flat-out trigger-to-done run, 4–5% of the service's CPU was stack copying under the
// request goroutines, most of it inside protovalidate. Growing once here, with a dozen frames
// on the stack, costs a fraction of that; the runtime may shrink the stack again at a garbage
// collection if the goroutine lives on and uses less (a long stream).
func withStack(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reserveStack(0)
		h.ServeHTTP(w, r)
	})
}

// reserveStack has a frame of stackReserve bytes, which the runtime makes room for on entry.
// The index keeps the compiler from dropping the array.
//
//go:noinline
func reserveStack(i int) byte {
	var frame [stackReserve]byte
	frame[i%stackReserve] = 1
	return frame[(i+1)%stackReserve]
}
