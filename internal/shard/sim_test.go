package shard_test

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/shard"
)

var (
	simTriggers = flag.Int("shard.triggers", 100_000, "triggers of the sharding simulation (scripts/bench/shard-sim.sh runs 10,000,000)")
	simReplicas = flag.Int("shard.replicas", 20, "scheduler replicas live at the start of the simulation")
	simHours    = flag.Float64("shard.hours", 1, "simulated hours")
	simReport   = flag.String("shard.report", "", "file to write the simulation's figures to, as markdown")
)

// The simulated installation's timings, as the scheduler and the registry have them by default.
const (
	simPoll = 5  // s: a scheduler reads the membership every registry heartbeat
	simTTL  = 15 // s: a killed scheduler stays listed this long after its last heartbeat
)

// simPeriods are the trigger periods, per-second to per-minute (s), each given to an equal
// share of the triggers.
var simPeriods = []int64{1, 2, 5, 10, 15, 30, 60}

// simChange is one change of the ring (the membership every scheduler sees).
type simChange struct {
	at       int64
	kind     string // join, leave (graceful), kill
	member   int
	from, to int     // members before and after
	moved    float64 // share of the holdings (key, member) that changed hands
	primary  float64 // share of the keys whose primary changed
}

// simulation is rendezvous sharding over a fake clock (seconds): members join, leave
// gracefully and are killed; the ring (what the schedulers see) follows the registry's
// delays: a join or a graceful leave is seen within one poll, a kill once the TTL has run out
// and the next poll has read it. Between two moments every key's slots are counted: fired by
// the primary, by the standby (the primary is dead but still listed), or by neither (both
// owners dead and still listed: those slots are settled by the misfire policy when the ring
// drops the dead and the new owners catch the key up).
type simulation struct {
	keyHash []uint64
	period  []uint8 // index in simPeriods
	owners  [][2]uint16
	ids     []string // every member ever, by global index
	alive   []bool
	inRing  []bool

	changes                           []simChange
	slots, byPrimary, byStandby, lost int64
	doubleKills                       int
	bothDeadKeys, bothDeadExpected    float64
	balanceMin, balanceMax            int
	balanceMean                       float64
}

func newSimulation(nKeys, nMembers int) *simulation {
	s := &simulation{keyHash: make([]uint64, nKeys), period: make([]uint8, nKeys), owners: make([][2]uint16, nKeys)}
	for i := range nKeys {
		s.keyHash[i] = shard.HashKey(fmt.Sprintf("wf-%d/cron-%d", i/4, i%4))
		s.period[i] = uint8(i % len(simPeriods))
	}
	for range nMembers {
		s.addMember()
		s.inRing[len(s.ids)-1] = true
	}
	return s
}

func (s *simulation) addMember() int {
	id := len(s.ids)
	s.ids = append(s.ids, fmt.Sprintf("scheduler-%d-%08x", id, uint32(id)*2654435761))
	s.alive = append(s.alive, true)
	s.inRing = append(s.inRing, false)
	return id
}

// assign computes every key's owners in the current ring and returns how many holdings and
// primaries changed.
func (s *simulation) assign() (moved, primaries int64) {
	var ring []string
	for i, in := range s.inRing {
		if in {
			ring = append(ring, s.ids[i])
		}
	}
	r := shard.New(ring[0], ring)
	global := make([]uint16, r.Len())
	for i, id := range r.Members() {
		global[i] = uint16(slices.Index(s.ids, id)) //nolint:gosec // fewer than 65536 members
	}
	workers := runtime.GOMAXPROCS(0)
	chunk := (len(s.keyHash) + workers - 1) / workers
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			var mv, pr int64
			for k := w * chunk; k < min((w+1)*chunk, len(s.keyHash)); k++ {
				p, st := r.OwnersOfHash(s.keyHash[k])
				now := [2]uint16{global[p], global[st]}
				old := s.owners[k]
				if old != now {
					for _, m := range now {
						if m != old[0] && m != old[1] {
							mv++
						}
					}
					if old[0] != now[0] {
						pr++
					}
				}
				s.owners[k] = now
			}
			mu.Lock()
			moved += mv
			primaries += pr
			mu.Unlock()
		})
	}
	wg.Wait()
	return moved, primaries
}

// count adds the slots of [a, b) to the figures.
func (s *simulation) count(a, b int64) {
	if a >= b {
		return
	}
	slotsOf := func(p int64) int64 { return ceilDiv(b, p) - ceilDiv(a, p) }
	deadListed := false
	for i := range s.ids {
		if s.inRing[i] && !s.alive[i] {
			deadListed = true
		}
	}
	if !deadListed { // every primary is alive: no need to look at each key
		for pi, p := range simPeriods {
			n := int64(len(s.keyHash)/len(simPeriods)) + b2i(len(s.keyHash)%len(simPeriods) > pi)
			s.slots += n * slotsOf(p)
			s.byPrimary += n * slotsOf(p)
		}
		return
	}
	per := make([]int64, len(simPeriods))
	for pi, p := range simPeriods {
		per[pi] = slotsOf(p)
	}
	for k, o := range s.owners {
		n := per[s.period[k]]
		s.slots += n
		switch {
		case s.alive[o[0]]:
			s.byPrimary += n
		case s.alive[o[1]]:
			s.byStandby += n
		default:
			s.lost += n
		}
	}
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// simMoment is something that happens at a time: a member's process starts or dies, or the
// ring takes a member in or drops it.
type simMoment struct {
	at     int64
	member int
	kind   string // start, die, ringIn, ringOut
	cause  string // join, leave, kill
}

// run plays churn over hours: an event about every two minutes (a join, a graceful leave or
// a kill, keeping 80–120% of the members), and every ten minutes two kills five seconds apart:
// the one case where a key can lose both owners at once.
func (s *simulation) run(hours float64) {
	rng := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // a reproducible simulation
	end := int64(hours * 3600)
	n0 := len(s.ids)
	s.assign()
	s.balance()
	var moments []simMoment
	live := map[int]bool{}
	for i := range s.ids {
		live[i] = true
	}
	pickLive := func() int {
		var ids []int
		for id := range live {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		return ids[rng.IntN(len(ids))]
	}
	kill := func(at int64) {
		m := pickLive()
		delete(live, m)
		moments = append(moments, simMoment{at, m, "die", "kill"}, simMoment{at + simTTL + simPoll, m, "ringOut", "kill"})
	}
	for t := int64(60); t < end-120; t += 90 + rng.Int64N(60) {
		switch r := rng.IntN(10); {
		case len(live) < n0*4/5 || (r < 5 && len(live) < n0*6/5):
			m := s.addMember()
			live[m] = true
			s.alive[m] = false // not started yet
			moments = append(moments, simMoment{t, m, "start", "join"}, simMoment{t, m, "ringIn", "join"})
		case r < 6:
			m := pickLive()
			delete(live, m)
			moments = append(moments, simMoment{t, m, "die", "leave"}, simMoment{t + simPoll, m, "ringOut", "leave"})
		default:
			kill(t)
		}
		if t%600 < 150 && len(live) > 2 { // a double kill about every ten minutes
			a := len(live)
			kill(t + 30)
			kill(t + 35)
			s.doubleKills++
			s.bothDeadExpected += 2 / float64(a*(a-1)) * float64(len(s.keyHash))
		}
	}
	slices.SortStableFunc(moments, func(a, b simMoment) int { return int(a.at - b.at) })
	last := int64(0)
	for _, m := range moments {
		s.count(last, m.at)
		last = m.at
		switch m.kind {
		case "start":
			s.alive[m.member] = true
		case "die":
			s.alive[m.member] = false
			if m.cause == "kill" {
				s.countBothDead()
			}
		case "ringIn", "ringOut":
			from := s.ringLen()
			s.inRing[m.member] = m.kind == "ringIn"
			moved, primaries := s.assign()
			s.changes = append(s.changes, simChange{
				at: m.at, kind: m.cause, member: m.member, from: from, to: s.ringLen(),
				moved:   float64(moved) / float64(shard.Copies*len(s.keyHash)),
				primary: float64(primaries) / float64(len(s.keyHash)),
			})
		}
	}
	s.count(last, end)
}

// countBothDead adds the keys whose two owners are both dead now (after a kill).
func (s *simulation) countBothDead() {
	for _, o := range s.owners {
		if !s.alive[o[0]] && !s.alive[o[1]] {
			s.bothDeadKeys++
		}
	}
}

func (s *simulation) ringLen() int {
	n := 0
	for _, in := range s.inRing {
		if in {
			n++
		}
	}
	return n
}

// balance records the holdings per member of the current ring.
func (s *simulation) balance() {
	held := make([]int, len(s.ids))
	for _, o := range s.owners {
		held[o[0]]++
		held[o[1]]++
	}
	s.balanceMin, s.balanceMax = math.MaxInt, 0
	for i, in := range s.inRing {
		if in {
			s.balanceMin, s.balanceMax = min(s.balanceMin, held[i]), max(s.balanceMax, held[i])
		}
	}
	s.balanceMean = float64(shard.Copies*len(s.keyHash)) / float64(s.ringLen())
}

// TestSimulation runs the simulation at -shard.triggers (100,000 by default: a few seconds)
// and checks what rendezvous hashing promises: balance, ~1/n moved per change, and slots
// without a live owner only when both owners of a key die in one detection window.
func TestSimulation(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	start := time.Now()
	s := newSimulation(*simTriggers, *simReplicas)
	s.run(*simHours)
	elapsed := time.Since(start)

	is.True(float64(s.balanceMax) < 1.1*s.balanceMean && float64(s.balanceMin) > 0.9*s.balanceMean) // each member holds about 2N/n
	is.True(len(s.changes) > 20)                                                                    // churn happened
	for _, c := range s.changes {
		n := max(c.from, c.to) // the ring with the member in it
		ideal := 1 / float64(n)
		is.True(c.moved > 0.8*ideal && c.moved < 1.2*ideal) // a change moves about 1/n of the holdings
	}
	is.Equal(s.slots, s.byPrimary+s.byStandby+s.lost)                                                                // every slot counted once
	is.True(s.byStandby > 0)                                                                                         // kills happened: standbys fired
	is.True(s.doubleKills > 0 && s.bothDeadKeys > 0.7*s.bothDeadExpected && s.bothDeadKeys < 1.3*s.bothDeadExpected) // double loss ≈ 2/(n(n−1)) of the keys

	report := s.report(elapsed)
	t.Log("\n" + report)
	if *simReport != "" {
		is.NoErr(os.WriteFile(*simReport, []byte(report), 0o600))
	}
}

func (s *simulation) report(elapsed time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "- %d triggers (periods %v s, equal shares), %d replicas at the start, %.1f simulated hours, fake clock; ",
		len(s.keyHash), simPeriods, *simReplicas, *simHours)
	fmt.Fprintf(&b, "membership seen within %d s of a join or graceful leave, %d s after a kill (TTL + one poll). Ran in %s.\n",
		simPoll, simTTL+simPoll, elapsed.Round(time.Second))
	fmt.Fprintf(&b, "- Balance at %d replicas: holdings (primary + standby) per replica %d–%d, ideal 2N/n = %.0f (%.1f%%–%.1f%% of it).\n",
		*simReplicas, s.balanceMin, s.balanceMax, s.balanceMean,
		100*float64(s.balanceMin)/s.balanceMean, 100*float64(s.balanceMax)/s.balanceMean)
	var worst float64
	var sum, sumIdeal float64
	for _, c := range s.changes {
		ideal := 1 / float64(max(c.from, c.to))
		worst = max(worst, math.Abs(c.moved-ideal)/ideal)
		sum += c.moved
		sumIdeal += ideal
	}
	fmt.Fprintf(&b, "- %d membership changes: holdings moved per change %.2f%% on average against an ideal 1/n of %.2f%%; worst change %.1f%% off its 1/n.\n",
		len(s.changes), 100*sum/float64(len(s.changes)), 100*sumIdeal/float64(len(s.changes)), 100*worst)
	fmt.Fprintf(&b, "- Slots: %d; fired by the primary %.4f%%, by the standby (primary killed, not yet dropped) %.4f%%, by neither %.5f%% (%d).\n",
		s.slots, pct(s.byPrimary, s.slots), pct(s.byStandby, s.slots), pct(s.lost, s.slots), s.lost)
	fmt.Fprintf(&b, "- Slots with neither owner alive occur only when both owners of a key die within one detection window: %d double kills left %.0f keys without a live owner (expected 2/(n(n−1)) of the keys per double kill: %.0f). Those slots are not lost to the ledger: the new owners catch the key up by its misfire policy once the ring drops the dead (FIRE_ALL fires each, FIRE_ONCE the latest).\n",
		s.doubleKills, s.bothDeadKeys, s.bothDeadExpected)
	b.WriteString("\n| at (s) | change | replicas | holdings moved | ideal 1/n | primaries changed |\n|---:|---|---:|---:|---:|---:|\n")
	for _, c := range s.changes {
		fmt.Fprintf(&b, "| %d | %s | %d → %d | %.2f%% | %.2f%% | %.2f%% |\n", c.at, c.kind, c.from, c.to, 100*c.moved, 100/float64(max(c.from, c.to)), 100*c.primary)
	}
	return b.String()
}

func pct(a, b int64) float64 { return 100 * float64(a) / float64(b) }
