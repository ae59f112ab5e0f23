package scheduler

import "hash/maphash"

// table is a hash set of *T keyed by a string each element holds (key): open addressing with
// linear probing. A slot is one pointer, the element's 32-bit hash and a uint32 mark: at a
// million entries, 16 bytes a slot (half to three quarters full) against a Go map's 30 to 60
// bytes an entry, and no copy of the key. A probe compares the hashes, which lie side by side,
// and reads an element (a cache miss at that size) only when they match: a lookup at three
// quarters full passes eight slots on average before it finds the key absent. Growing and
// deleting rehash nothing. Not safe for concurrent use; the zero value is not ready: use
// newTable.
type table[T any] struct {
	hash   func(string) uint32
	key    func(*T) string
	slots  []*T
	hashes []uint32 // hashes[i] is hash(key(slots[i])); home is hash & (len(slots)-1)
	marks  []uint32 // marks[i] belongs to slots[i]: a number the caller keeps with the element
	n      int
}

func newTable[T any](key func(*T) string) *table[T] {
	seed := maphash.MakeSeed()
	return newTableHash(key, func(s string) uint32 { return uint32(maphash.String(seed, s)) })
}

// newTableHash is newTable with the hash function given (tests use weak ones).
func newTableHash[T any](key func(*T) string, hash func(string) uint32) *table[T] {
	return &table[T]{hash: hash, key: key, slots: make([]*T, 8), hashes: make([]uint32, 8), marks: make([]uint32, 8)}
}

func (t *table[T]) len() int { return t.n }

// find returns the slot of key, or -1.
func (t *table[T]) find(key string) int {
	h := t.hash(key)
	mask := len(t.slots) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		e := t.slots[i]
		if e == nil {
			return -1
		}
		if t.hashes[i] == h && t.key(e) == key {
			return i
		}
	}
}

// get returns the element of key and its mark, or nil.
func (t *table[T]) get(key string) (*T, uint32) {
	if i := t.find(key); i >= 0 {
		return t.slots[i], t.marks[i]
	}
	return nil, 0
}

// setMark sets the mark of key's element and says whether there is one.
func (t *table[T]) setMark(key string, mark uint32) bool {
	i := t.find(key)
	if i < 0 {
		return false
	}
	t.marks[i] = mark
	return true
}

// put stores e with its mark, replacing the element of the same key.
func (t *table[T]) put(e *T, mark uint32) {
	if (t.n+1)*4 > len(t.slots)*3 {
		t.grow()
	}
	key := t.key(e)
	h := t.hash(key)
	mask := len(t.slots) - 1
	i := int(h) & mask
	for ; t.slots[i] != nil; i = (i + 1) & mask {
		if t.hashes[i] == h && t.key(t.slots[i]) == key {
			t.slots[i], t.marks[i] = e, mark
			return
		}
	}
	t.slots[i], t.hashes[i], t.marks[i] = e, h, mark
	t.n++
}

func (t *table[T]) grow() {
	slots, hashes, marks := t.slots, t.hashes, t.marks
	n := 2 * len(slots)
	t.slots, t.hashes, t.marks = make([]*T, n), make([]uint32, n), make([]uint32, n)
	mask := n - 1
	for j, e := range slots {
		if e == nil {
			continue
		}
		i := int(hashes[j]) & mask
		for t.slots[i] != nil {
			i = (i + 1) & mask
		}
		t.slots[i], t.hashes[i], t.marks[i] = e, hashes[j], marks[j]
	}
}

// delete removes the element of key and returns it, or nil.
func (t *table[T]) delete(key string) *T {
	i := t.find(key)
	if i < 0 {
		return nil
	}
	e := t.slots[i]
	t.slots[i], t.hashes[i], t.marks[i] = nil, 0, 0
	t.n--
	// Move back the elements of the probe run after i whose home is not in (i, k], so that no
	// probe stops at the hole.
	mask := len(t.slots) - 1
	for k := (i + 1) & mask; t.slots[k] != nil; k = (k + 1) & mask {
		h := int(t.hashes[k]) & mask
		if (i < k && i < h && h <= k) || (i > k && (i < h || h <= k)) {
			continue // its home is between the hole and it: it stays
		}
		t.slots[i], t.hashes[i], t.marks[i] = t.slots[k], t.hashes[k], t.marks[k]
		t.slots[k], t.hashes[k], t.marks[k] = nil, 0, 0
		i = k
	}
	return e
}

// all calls fn with every element and its mark, in no order; fn must not change the table.
func (t *table[T]) all(fn func(e *T, mark uint32)) {
	for i, e := range t.slots {
		if e != nil {
			fn(e, t.marks[i])
		}
	}
}

// scan calls fn with the elements of up to n slots from slot from on, and returns the slot to
// go on from, or -1 when it reached the end: a caller may release its lock between calls. An
// element that a change between two calls moves may be seen twice or not at all.
func (t *table[T]) scan(from, n int, fn func(e *T, mark uint32)) int {
	end := min(from+n, len(t.slots))
	for i := from; i < end; i++ {
		if e := t.slots[i]; e != nil {
			fn(e, t.marks[i])
		}
	}
	if end == len(t.slots) {
		return -1
	}
	return end
}
