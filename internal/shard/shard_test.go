package shard_test

import (
	"fmt"
	"hash/fnv"
	"testing"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/shard"
)

func members(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("sched-%d-%08x", i, i*2654435761)
	}
	return out
}

func keys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("wf-%d/cron-%d", i/10, i%10)
	}
	return out
}

// roles returns each member's role for key, seen by each member with the same view.
func roles(ms []string, key string) map[string]shard.Role {
	out := map[string]shard.Role{}
	for _, m := range ms {
		out[m] = shard.New(m, ms).Role(key)
	}
	return out
}

func TestOneMemberOwnsEverything(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	for _, r := range []*shard.Ring{shard.New("only", nil), shard.New("only", []string{"only"}), shard.New("only", []string{"", "only"})} {
		is.Equal(r.Len(), 1)
		for _, k := range keys(100) {
			is.Equal(r.Role(k), shard.Primary) // the only member fires everything
		}
	}
	var none *shard.Ring
	is.Equal(none.Role("k"), shard.None)
}

func TestSelfIsAlwaysAMember(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	r := shard.New("me", []string{"b", "a"})
	is.Equal(r.Members(), []string{"a", "b", "me"})
	is.Equal(r.Self(), "me")
}

func TestEveryKeyHasOnePrimaryAndOneStandby(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	for _, n := range []int{2, 3, 4, 7, 20} {
		ms := members(n)
		for _, k := range keys(500) {
			var p, s int
			for _, r := range roles(ms, k) {
				switch r {
				case shard.Primary:
					p++
				case shard.Standby:
					s++
				}
			}
			is.Equal(p, 1) // one primary
			is.Equal(s, 1) // one standby
		}
	}
}

func TestBalance(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	const n, nk = 4, 10000
	ms := members(n)
	ks := keys(nk)
	for _, m := range ms {
		r := shard.New(m, ms)
		held, primary := 0, 0
		for _, k := range ks {
			switch r.Role(k) {
			case shard.Primary:
				primary++
				held++
			case shard.Standby:
				held++
			}
		}
		want := nk * shard.Copies / n
		is.True(held > want*9/10 && held < want*11/10)       // about 2/n of the keys held
		is.True(primary > nk/n*9/10 && primary < nk/n*11/10) // about 1/n as primary
	}
}

// owners returns a key's owners by id.
func owners(r *shard.Ring, k string) [2]string {
	p, s := r.Owners(k)
	out := [2]string{r.Members()[p], ""}
	if s >= 0 {
		out[1] = r.Members()[s]
	}
	return out
}

func TestJoinAndLeaveMoveOnlyTheirShare(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ms := members(9)
	before := shard.New(ms[0], ms[:8])
	after := shard.New(ms[0], ms) // ms[8] joins
	ks := keys(20000)
	moved := 0
	for _, k := range ks {
		b, a := owners(before, k), owners(after, k)
		if b == a {
			continue
		}
		// A key changes hands only to the joiner, which takes one of its two places.
		is.True(a[0] == ms[8] || a[1] == ms[8]) // only the joiner gains
		if a[0] == ms[8] {
			is.Equal(a[1], b[0]) // the old primary stands by
		} else {
			is.Equal(a[0], b[0]) // the primary stays
		}
		moved++
	}
	share := float64(moved) / float64(len(ks))
	is.True(share > 0.9*2/9 && share < 1.1*2/9) // about 2/n of the keys get the joiner
	// Leaving is the same in reverse: only the leaver's keys change.
	for _, k := range ks {
		b, a := owners(after, k), owners(before, k)
		if b != a {
			is.True(b[0] == ms[8] || b[1] == ms[8]) // only the leaver's keys move
		}
	}
}

func FuzzOwners(f *testing.F) {
	f.Add("wf/t", "a", "b", "c", "d")
	f.Add("", "x", "x", "", "y")
	f.Fuzz(func(t *testing.T, key, a, b, c, d string) {
		ms := []string{a, b, c, d}
		r := shard.New(a, ms)
		p, s := r.Owners(key)
		if p < 0 || p >= r.Len() || (r.Len() > 1 && (s < 0 || s == p)) || (r.Len() == 1 && s != -1) {
			t.Fatalf("owners %d, %d of %d members", p, s, r.Len())
		}
		// Removing a member that owns nothing changes nothing.
		own := owners(r, key)
		for _, m := range r.Members() {
			if m == own[0] || m == own[1] || m == a {
				continue
			}
			var rest []string
			for _, o := range r.Members() {
				if o != m {
					rest = append(rest, o)
				}
			}
			if got := owners(shard.New(a, rest), key); got != own {
				t.Fatalf("removing %q moved %q from %v to %v", m, key, own, got)
			}
		}
	})
}

func TestHashIsFNV1a(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	for _, s := range []string{"", "a", "wf-1/cron-2", "scheduler-host-1-abcdef"} {
		h := fnv.New64a()
		_, _ = h.Write([]byte(s))
		is.Equal(shard.HashKey(s), h.Sum64()) // every process computes the same hash
	}
}
