package scheduler

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/matryer/is"
)

type tableElem struct{ name string }

// TestTable checks the table against a map through random puts, marks and deletes (deletes
// exercise moving elements back into the holes).
func TestTable(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	tab := newTable(func(e *tableElem) string { return e.name })
	want := map[string]*tableElem{}
	marks := map[string]uint32{}
	r := rand.New(rand.NewPCG(1, 2))
	for step := range 200000 {
		name := strconv.Itoa(r.IntN(5000))
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
