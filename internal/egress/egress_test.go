package egress_test

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/egress"
)

func TestPublic(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr   string
		public bool
	}{
		{"93.184.215.14", true},
		{"8.8.8.8", true},
		{"2606:4700:4700::1111", true},
		{"127.0.0.1", false},
		{"127.1.2.3", false},
		{"::1", false},
		{"::ffff:127.0.0.1", false}, // IPv4-mapped loopback
		{"::ffff:8.8.8.8", true},
		{"10.0.0.1", false},
		{"172.16.5.4", false},
		{"192.168.1.1", false},
		{"fd00::1", false},
		{"169.254.169.254", false}, // cloud metadata
		{"fe80::1", false},
		{"fe80::1%eth0", false},
		{"224.0.0.1", false},
		{"ff02::1", false},
		{"0.0.0.0", false},
		{"::", false},
		{"0.1.2.3", false},
		{"100.100.100.200", false}, // carrier-grade NAT range, a cloud's metadata service
		{"255.255.255.255", false},
		{"64:ff9b::7f00:1", false}, // NAT64 of 127.0.0.1
		{"2002:7f00:1::", false},   // 6to4 of 127.0.0.1
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			is := is.New(t)
			is.Equal(egress.Public(netip.MustParseAddr(tt.addr)), tt.public)
		})
	}
}

func TestNewAllowlist(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	p, err := egress.New([]string{" 10.1.0.0/16", "192.168.7.7", "", "Billing.Internal.", "*.svc.cluster.local"})
	is.NoErr(err)
	is.True(p.AllowsAddr(netip.MustParseAddr("10.1.200.3")))         // in the prefix
	is.True(!p.AllowsAddr(netip.MustParseAddr("10.2.0.1")))          // outside it
	is.True(p.AllowsAddr(netip.MustParseAddr("::ffff:192.168.7.7"))) // one address, mapped form too
	is.True(!p.AllowsAddr(netip.MustParseAddr("192.168.7.8")))
	is.True(p.AllowsAddr(netip.MustParseAddr("8.8.8.8"))) // public stays allowed
	is.True(p.AllowsHost("billing.internal"))
	is.True(p.AllowsHost("BILLING.internal."))
	is.True(!p.AllowsHost("other.internal"))
	is.True(p.AllowsHost("api.ns.svc.cluster.local"))
	is.True(!p.AllowsHost("svc.cluster.local")) // *.domain is the names under it
	is.True(!p.AllowsHost("evilsvc.cluster.local"))
	is.True(!p.AllowsHost("10.1.0.1")) // an IP literal is judged by address, never by name

	_, err = egress.New([]string{"10.0.0.0/33", "exa mple.com", "*.", "-bad.com", "ok.com"})
	is.True(err != nil)
	for _, bad := range []string{"10.0.0.0/33", "exa mple.com", `"*."`, "-bad.com"} {
		is.True(strings.Contains(err.Error(), bad)) // every bad entry named
	}
	is.True(!strings.Contains(err.Error(), "ok.com"))
}

// listen returns a TCP listener on 127.0.0.1 and its port.
func listen(t *testing.T) (net.Listener, string) {
	t.Helper()
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return ln, port
}

// TestDialChecksTheResolvedAddress: with a real listener on 127.0.0.1, the default policy
// refuses the IP literal and the name localhost (which resolves to it), before any connection
// is made; allowlisting 127.0.0.0/8 or the name lets the dial through.
func TestDialChecksTheResolvedAddress(t *testing.T) {
	t.Parallel()
	ln, port := listen(t)
	deny, err := egress.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	byCIDR, _ := egress.New([]string{"127.0.0.0/8"})
	byName, _ := egress.New([]string{"localhost"})

	tests := []struct {
		name   string
		policy *egress.Policy
		addr   string
		denied bool
	}{
		{"loopback literal denied", deny, "127.0.0.1:" + port, true},
		{"name resolving to loopback denied", deny, "localhost:" + port, true},
		{"mapped loopback denied", deny, "[::ffff:127.0.0.1]:" + port, true},
		{"allowed by CIDR", byCIDR, "127.0.0.1:" + port, false},
		{"name allowed", byName, "localhost:" + port, false},
		{"allowed name does not allow the literal", byName, "127.0.0.1:" + port, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			dial := tt.policy.DialContext(&net.Dialer{})
			conn, err := dial(t.Context(), "tcp", tt.addr)
			if tt.denied {
				is.True(errors.Is(err, egress.ErrDenied)) // refused by the policy
				// Refused before connect: the next connection the listener accepts is an
				// allowed one made afterwards, not this one.
				ok, err := byCIDR.DialContext(&net.Dialer{})(t.Context(), "tcp4", "127.0.0.1:"+port)
				is.NoErr(err)
				defer func() { _ = ok.Close() }()
				got, err := ln.Accept()
				is.NoErr(err)
				defer func() { _ = got.Close() }()
				is.Equal(got.RemoteAddr().String(), ok.LocalAddr().String()) // nothing reached the listener before
				return
			}
			is.NoErr(err)
			defer func() { _ = conn.Close() }()
			got, err := ln.Accept()
			is.NoErr(err)
			_ = got.Close()
		})
	}
}
