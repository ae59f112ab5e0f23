package runtime

import (
	"fmt"
	"time"

	"connectrpc.com/connect"
)

// Protocol is the wire protocol of a Client's RPCs. The service speaks all three on one port.
type Protocol int

const (
	// ProtocolGRPC is gRPC over HTTP/2: h2c (HTTP/2 without TLS) for http:// URLs, HTTP/2 over
	// TLS for https://. The default.
	ProtocolGRPC Protocol = iota
	// ProtocolConnect is the Connect protocol: HTTP/1.1 for http:// URLs (HTTP/2 where TLS
	// negotiates it), which passes any HTTP proxy.
	ProtocolConnect
	// ProtocolGRPCWeb is gRPC-Web, over HTTP/1.1 or HTTP/2 like ProtocolConnect.
	ProtocolGRPCWeb
)

// String returns "grpc", "connect" or "grpcweb".
func (p Protocol) String() string {
	switch p {
	case ProtocolGRPC:
		return "grpc"
	case ProtocolConnect:
		return "connect"
	case ProtocolGRPCWeb:
		return "grpcweb"
	}
	return fmt.Sprintf("Protocol(%d)", int(p))
}

// Defaults of the options.
const (
	// DefaultTimeout is the deadline of a call whose context has none (WithTimeout).
	DefaultTimeout = 30 * time.Second
	// DefaultMaxAttempts is RetryPolicy.MaxAttempts when it is 0.
	DefaultMaxAttempts = 4
	// DefaultInitialBackoff is RetryPolicy.InitialBackoff when it is 0.
	DefaultInitialBackoff = 100 * time.Millisecond
	// DefaultMaxBackoff is RetryPolicy.MaxBackoff when it is 0.
	DefaultMaxBackoff = 5 * time.Second
)

// RetryPolicy says how often and how far apart a call that is safe to repeat is tried again
// after it failed with unavailable (or resource_exhausted with a RetryInfo delay). Which calls
// are safe is not configurable: see the package documentation.
type RetryPolicy struct {
	// MaxAttempts counts every attempt, the first included. Default DefaultMaxAttempts (4);
	// 1 turns retries off.
	MaxAttempts int
	// InitialBackoff is the wait before the second attempt; each further wait is 1.5 times
	// longer, each randomized by ±50% (jitter). Default DefaultInitialBackoff (100ms).
	InitialBackoff time.Duration
	// MaxBackoff caps one wait. Default DefaultMaxBackoff (5s). A RetryInfo delay from the
	// server is waited as given, even above MaxBackoff, unless it would pass the deadline:
	// then the call ends at once with the server's error.
	MaxBackoff time.Duration
}

// withDefaults fills the zero fields of p.
func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts == 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.InitialBackoff == 0 {
		p.InitialBackoff = DefaultInitialBackoff
	}
	if p.MaxBackoff == 0 {
		p.MaxBackoff = DefaultMaxBackoff
	}
	return p
}

// config is what the options set.
type config struct {
	protocol      Protocol
	token         string
	httpClient    connect.HTTPClient
	timeout       time.Duration
	retry         RetryPolicy
	webhookSecret func(path string) ([]byte, error)
	interceptors  []connect.Interceptor
	clientOptions []connect.ClientOption
}

func (c *config) validate() error {
	switch {
	case c.protocol < ProtocolGRPC || c.protocol > ProtocolGRPCWeb:
		return fmt.Errorf("unknown protocol %s", c.protocol)
	case c.timeout < 0:
		return fmt.Errorf("timeout %s is negative", c.timeout)
	case c.retry.MaxAttempts < 0:
		return fmt.Errorf("retry policy: MaxAttempts %d is negative", c.retry.MaxAttempts)
	case c.retry.InitialBackoff < 0 || c.retry.MaxBackoff < 0:
		return fmt.Errorf("retry policy: negative backoff")
	}
	return nil
}

// Option configures a Client.
type Option func(*config)

// WithProtocol chooses the wire protocol. Default ProtocolGRPC.
func WithProtocol(p Protocol) Option {
	return func(c *config) { c.protocol = p }
}

// WithToken sends token as "Authorization: Bearer <token>" on every RPC. The service's tokens
// carry scopes: a gateway needs trigger (TriggerWorkflow) and read (GetExecution, which
// WaitExecution calls). Default: no token, for a service that runs without authentication
// (on loopback only). TriggerWebhook sends no token: its signature is its authentication.
func WithToken(token string) Option {
	return func(c *config) { c.token = token }
}

// WithHTTPClient sends the requests through client, for example an *http.Client with a TLS
// configuration, a proxy or instrumentation of its own. It must speak HTTP/2 for
// ProtocolGRPC (for http:// URLs: h2c with prior knowledge, as net/http's Transport does
// with Protocols set to UnencryptedHTTP2 alone). Default: a client of its own per Client,
// set up for the protocol.
func WithHTTPClient(client connect.HTTPClient) Option {
	return func(c *config) { c.httpClient = client }
}

// WithTimeout is the deadline of a call whose context has none: the whole call, retries
// included. 0 means no deadline. Default DefaultTimeout (30s). A context deadline, when
// there is one, is always the one that counts. WaitExecution's own wait is not bounded by it
// (only each of its GetExecution calls): bound it with its context.
func WithTimeout(d time.Duration) Option {
	return func(c *config) { c.timeout = d }
}

// WithRetryPolicy sets how calls that are safe to repeat are retried; zero fields keep their
// defaults. WithRetryPolicy(RetryPolicy{MaxAttempts: 1}) turns retries off.
func WithRetryPolicy(p RetryPolicy) Option {
	return func(c *config) { c.retry = p }
}

// WithWebhookSecret is the secret TriggerWebhook signs deliveries with, whatever their path:
// the secret of the deployment's webhook trigger (WebhookTrigger.secret).
func WithWebhookSecret(secret []byte) Option {
	s := append([]byte(nil), secret...)
	return func(c *config) {
		c.webhookSecret = func(string) ([]byte, error) { return s, nil }
	}
}

// WithWebhookSecrets gives TriggerWebhook the secret of each webhook path, for a gateway that
// forwards to several triggers with secrets of their own. An error from secret ends the
// TriggerWebhook call with it.
func WithWebhookSecrets(secret func(path string) ([]byte, error)) Option {
	return func(c *config) { c.webhookSecret = secret }
}

// WithInterceptors adds connect interceptors to every RPC (tracing, metrics, logging), run
// outside the client's own retries: an interceptor sees one call however many attempts it
// took.
func WithInterceptors(interceptors ...connect.Interceptor) Option {
	return func(c *config) { c.interceptors = append(c.interceptors, interceptors...) }
}

// WithClientOptions passes further options to the generated connect client (compression,
// message size limits, codecs). The protocol is WithProtocol's to choose.
func WithClientOptions(opts ...connect.ClientOption) Option {
	return func(c *config) { c.clientOptions = append(c.clientOptions, opts...) }
}
