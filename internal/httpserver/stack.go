package httpserver

import (
	"net/http"

	"github.com/workflow-runtime/workflow-runtime/internal/stack"
)

// withStack grows the goroutine's stack (stack.Reserve) before it calls h.
//
// The HTTP/2 server runs each request on a new goroutine, which starts with a small stack. A
// unary call's handlers (OTel, the access log, recover, the size caps, protovalidate's
// recursive evaluators, the service) go deep enough to outgrow it one or more times, and each
// growth copies the stack and adjusts every frame on it, deepest when it happens deepest: on
// the flat-out trigger-to-done run, 4–5% of the service's CPU was stack copying under the
// request goroutines, most of it inside protovalidate. Growing once here, with a dozen frames
// on the stack, costs a fraction of that.
func withStack(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stack.Reserve()
		h.ServeHTTP(w, r)
	})
}
