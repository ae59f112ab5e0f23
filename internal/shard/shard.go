package shard

import "slices"

// Copies is how many members hold each key: a primary that fires and a standby that covers it.
const Copies = 2

// Role is what a member does for a key.
type Role uint8

// The roles.
const (
	// None: the member does not hold the key.
	None Role = iota
	// Primary: the member fires the key's slots.
	Primary
	// Standby: the member fires a slot only when the primary has not (scheduler doc.go).
	Standby
)

// String returns the role's name.
func (r Role) String() string {
	switch r {
	case Primary:
		return "primary"
	case Standby:
		return "standby"
	default:
		return "none"
	}
}

// Ring is one view of the membership, as seen by one member (Self): immutable, safe for
// concurrent use. Its zero value and nil hold nothing; New builds one.
type Ring struct {
	self    int      // index of Self in members
	members []string // sorted, distinct
	hashes  []uint64 // hash of each member, by index
}

// New returns the ring of members as seen by self. Self is always a member, listed or not: a
// member that runs holds its share (at worst, a share someone else holds too: a deduplicated
// fire, never a lost one). Duplicates and empty ids are dropped.
func New(self string, members []string) *Ring {
	m := make([]string, 0, len(members)+1)
	m = append(m, self)
	for _, id := range members {
		if id != "" {
			m = append(m, id)
		}
	}
	slices.Sort(m)
	m = slices.Compact(m)
	r := &Ring{members: m, hashes: make([]uint64, len(m))}
	for i, id := range m {
		r.hashes[i] = hashString(id)
		if id == self {
			r.self = i
		}
	}
	return r
}

// Self is the member the ring is seen by.
func (r *Ring) Self() string { return r.members[r.self] }

// Members returns the members, sorted. The slice must not be changed.
func (r *Ring) Members() []string { return r.members }

// Len is the number of members.
func (r *Ring) Len() int { return len(r.members) }

// Equal says whether both rings have the same members.
func (r *Ring) Equal(o *Ring) bool {
	if r == nil || o == nil {
		return r == o
	}
	return slices.Equal(r.members, o.members)
}

// Owners returns the indexes (in Members) of the key's primary and standby: the members of
// highest and second highest weight for the key (rendezvous hashing). standby is -1 when the
// ring has one member.
func (r *Ring) Owners(key string) (primary, standby int) {
	return r.OwnersOfHash(HashKey(key))
}

// OwnersOfHash is Owners for a key hashed already (HashKey): simulations hash each key once.
func (r *Ring) OwnersOfHash(kh uint64) (primary, standby int) {
	primary, standby = -1, -1
	var w1, w2 uint64
	for i, mh := range r.hashes {
		w := Weight(kh, mh)
		switch {
		case primary < 0 || w > w1:
			standby, w2 = primary, w1
			primary, w1 = i, w
		case standby < 0 || w > w2:
			standby, w2 = i, w
		}
	}
	return primary, standby
}

// Role says what Self does for key. With one member, Self is the primary of every key.
func (r *Ring) Role(key string) Role { return r.RoleOfHash(HashKey(key)) }

// RoleOfHash is Role for a key hashed already (HashKey, HashKeyOf).
func (r *Ring) RoleOfHash(kh uint64) Role {
	if r == nil || len(r.members) == 0 {
		return None
	}
	p, s := r.OwnersOfHash(kh)
	switch r.self {
	case p:
		return Primary
	case s:
		return Standby
	default:
		return None
	}
}

// HashKey hashes a key: FNV-1a, 64 bits. The same in every process (no random seed), which is
// the point: every member computes the same owners.
func HashKey(key string) uint64 { return hashString(key) }

// HashKeyOf is HashKey(prefix + string(sep) + suffix), without building the key.
func HashKeyOf(prefix string, sep byte, suffix string) uint64 {
	const prime = 1099511628211
	h := hashString(prefix)
	h ^= uint64(sep)
	h *= prime
	for i := range len(suffix) {
		h ^= uint64(suffix[i])
		h *= prime
	}
	return h
}

// HashMember hashes a member id, as Ring does.
func HashMember(id string) uint64 { return hashString(id) }

// hashString is FNV-1a (hash/fnv's New64a), without its allocation.
func hashString(s string) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := range len(s) {
		h ^= uint64(s[i])
		h *= prime
	}
	return h
}

// Weight is the rendezvous weight of a key for a member, from their hashes: a strong 64-bit
// mix (splitmix64's finaliser) of both, so the order of the members is independent from key
// to key (FNV alone is too weak for that: keys that share a prefix would rank alike).
func Weight(keyHash, memberHash uint64) uint64 {
	return mix(keyHash ^ mix(memberHash+0x9e3779b97f4a7c15))
}

func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
