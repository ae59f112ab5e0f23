// Package egress is the policy for the connections a workflow makes on the service's behalf
// (the engine's http nodes): which addresses they may reach.
//
// # The rule
//
// By default only public unicast addresses are reachable. Denied: loopback (127.0.0.0/8, ::1),
// link-local (169.254.0.0/16 with the cloud metadata address, fe80::/10), private (10.0.0.0/8,
// 172.16.0.0/12, 192.168.0.0/16, fc00::/7), multicast, unspecified (0.0.0.0, ::) and the other
// special-purpose ranges that reach a host's own network rather than the internet (0.0.0.0/8,
// 100.64.0.0/10, 192.0.0.0/24, 198.18.0.0/15, 240.0.0.0/4, NAT64 and 6to4 prefixes that embed an
// IPv4 address). An IPv4-mapped IPv6 address is judged as its IPv4 address.
//
// The operator widens it with an allowlist (WFR_HTTP_ALLOW): IP addresses, CIDR prefixes
// (10.1.0.0/16, 127.0.0.0/8) and host names (billing.internal, or *.svc.cluster.local for every
// name under that domain). An address in an allowed prefix is reachable; a request to an allowed
// host name is trusted whatever the name resolves to.
//
// # Where it is checked
//
// On the address actually connected to, after name resolution: Policy.DialContext wraps a
// net.Dialer whose Control function sees each resolved IP just before connect(2) and refuses a
// denied one. A DNS name that resolves (or re-resolves: DNS rebinding) to a private address is
// therefore refused, and so is every redirect, whose new connection is dialled the same way.
// A proxy would connect on the policy's behalf, so the transports built here use none.
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
)

// ErrDenied is wrapped by the error of a connection the policy refused.
var ErrDenied = errors.New("address not allowed by the egress policy")

// Policy says which addresses may be reached. The zero value is not usable; build it with New.
// A Policy is immutable and safe for concurrent use.
type Policy struct {
	prefixes []netip.Prefix
	hosts    []string // lower case, exact names
	domains  []string // lower case, ".example.com" for the entry *.example.com
}

// New returns the default policy widened by allow: each entry an IP address, a CIDR prefix, a
// host name, or *.domain (every name under domain, not domain itself). Entries are trimmed;
// empty ones are ignored. An entry that is none of these is an error naming it.
func New(allow []string) (*Policy, error) {
	p := &Policy{}
	var errs []error
	for _, raw := range allow {
		e := strings.TrimSpace(raw)
		if e == "" {
			continue
		}
		if pfx, err := netip.ParsePrefix(e); err == nil {
			p.prefixes = append(p.prefixes, pfx.Masked())
			continue
		}
		if addr, err := netip.ParseAddr(e); err == nil {
			addr = addr.Unmap().WithZone("")
			p.prefixes = append(p.prefixes, netip.PrefixFrom(addr, addr.BitLen()))
			continue
		}
		name := strings.ToLower(strings.TrimSuffix(e, "."))
		if rest, ok := strings.CutPrefix(name, "*."); ok {
			if !validHostName(rest) {
				errs = append(errs, fmt.Errorf("%q is not an IP address, CIDR prefix, host name or *.domain", raw))
				continue
			}
			p.domains = append(p.domains, "."+rest)
			continue
		}
		if !validHostName(name) {
			errs = append(errs, fmt.Errorf("%q is not an IP address, CIDR prefix, host name or *.domain", raw))
			continue
		}
		p.hosts = append(p.hosts, name)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// validHostName accepts a DNS name: dot-separated labels of letters, digits, '-' and '_'.
func validHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			letter := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_'
			if !letter {
				return false
			}
		}
	}
	return true
}

// AllowsHost reports whether host (a name from a URL, without port) is on the allowlist by
// name, so that whatever it resolves to may be reached. IP literals are never allowed by name.
func (p *Policy) AllowsHost(host string) bool {
	if _, err := netip.ParseAddr(host); err == nil {
		return false
	}
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	for _, a := range p.hosts {
		if h == a {
			return true
		}
	}
	for _, d := range p.domains {
		if strings.HasSuffix(h, d) {
			return true
		}
	}
	return false
}

// AllowsAddr reports whether a connection to ip may be made: ip is in an allowed prefix, or it
// is a public unicast address.
func (p *Policy) AllowsAddr(ip netip.Addr) bool {
	ip = ip.Unmap().WithZone("")
	for _, pfx := range p.prefixes {
		if pfx.Contains(ip) {
			return true
		}
	}
	return Public(ip)
}

// Public reports whether ip is a public unicast address: what the default policy allows.
func Public(ip netip.Addr) bool {
	ip = ip.Unmap().WithZone("")
	if !ip.IsValid() || !ip.IsGlobalUnicast() || ip.IsPrivate() {
		return false // loopback, link-local, multicast, unspecified, broadcast, private
	}
	for _, pfx := range special {
		if pfx.Contains(ip) {
			return false
		}
	}
	return true
}

// special are the ranges IsGlobalUnicast accepts that still lead into a host's own network or
// nowhere public.
var special = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network": 0.x.y.z reaches the host itself on Linux
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT, used for cloud-internal services
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, and the broadcast address
	netip.MustParsePrefix("64:ff9b::/96"),   // NAT64: embeds any IPv4 address
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("2002::/16"),      // 6to4: embeds any IPv4 address
	netip.MustParsePrefix("2001::/32"),      // Teredo: embeds any IPv4 address
	netip.MustParsePrefix("100::/64"),       // discard-only
	netip.MustParsePrefix("fec0::/10"),      // site-local (deprecated, still routed internally)
}

// DialContext returns a dial function for http.Transport.DialContext: d (copied) with a Control
// function that refuses, after name resolution and before connecting, every address the policy
// does not allow; a host allowed by name (AllowsHost) is dialled without that check. A refused
// connection's error wraps ErrDenied.
func (p *Policy) DialContext(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	open := *d
	guarded := *d
	guarded.Control = func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: %q is not an IP address and port", ErrDenied, address)
		}
		if !p.AllowsAddr(ap.Addr()) {
			return ErrDenied
		}
		return nil
	}
	guarded.ControlContext = nil
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err == nil && p.AllowsHost(host) {
			return open.DialContext(ctx, network, addr)
		}
		return guarded.DialContext(ctx, network, addr)
	}
}
