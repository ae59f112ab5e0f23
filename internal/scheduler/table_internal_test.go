package scheduler

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/matryer/is"
)

type tableElem struct{ name string }

// TestTable checks the table against a map through random puts, marks and deletes (deletes
// exercise moving elements back into the holes), with its own hash and with weak ones: keys
// whose hashes are equal (so a probe must compare the keys) and hashes of a few bits (long
// probe runs that wrap around the end of the slots).
func TestTable(t *testing.T) {
	t.Parallel()
	hashes := map[string]func(string) uint32{
		"maphash": nil,
		"equal":   func(string) uint32 { return 12345 },
		"4 bits":  func(s string) uint32 { return uint32(len(s)*7+int(s[len(s)-1])) & 15 },
	}
	for name, hash := range hashes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tab := newTable(func(e *tableElem) string { return e.name })
			steps := 200000
			if hash != nil {
				tab = newTableHash(func(e *tableElem) string { return e.name }, hash)
				steps = 20000
			}
			checkTable(t, tab, steps)
		})
	}
}

func checkTable(t *testing.T, tab *table[tableElem], steps int) {
	is := is.New(t)
	want := map[string]*tableElem{}
	marks := map[string]uint32{}
	r := rand.New(rand.NewPCG(1, 2))
	for step := range steps {
		name := strconv.Itoa(r.IntN(steps / 40))
		switch r.IntN(4) {
		case 0, 1:
			e := &tableElem{name}
			tab.put(e, uint32(step))
			want[name], marks[name] = e, uint32(step)
		case 2:
			got := tab.delete(name)
			is.Equal(got, want[name])
			delete(want, name)
			delete(marks, name)
		case 3:
			ok := tab.setMark(name, 7)
			_, exists := want[name]
			is.Equal(ok, exists)
			if ok {
				marks[name] = 7
			}
		}
		is.Equal(tab.len(), len(want))
	}
	for name, e := range want {
		got, mark := tab.get(name)
		is.Equal(got, e)
		is.Equal(mark, marks[name])
	}
	n := 0
	tab.all(func(e *tableElem, mark uint32) {
		n++
		is.Equal(want[e.name], e)
		is.Equal(marks[e.name], mark)
	})
	is.Equal(n, len(want))
	got, _ := tab.get("absent")
	is.Equal(got, nil)
}
