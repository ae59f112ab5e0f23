package scheduler

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/cron"
	"github.com/workflow-runtime/workflow-runtime/internal/shard"
)

// Sharding shares the cron triggers among the live scheduler replicas (internal/shard, doc.go
// "Sharing the triggers"): each replica holds the triggers it is the primary or the standby
// of, and the ledger's unique key still decides every fire.
type Sharding struct {
	// Self is this replica's instance id, as Members lists it.
	Self string
	// Members returns the instance ids of the live schedulers (the instance registry's roles
	// scheduler and all). On an error the last view is kept. Required.
	Members func(ctx context.Context) ([]string, error)
	// Interval is how often Members is read. Default 5s (the registry's heartbeat).
	Interval time.Duration
	// Handoff is how long a trigger that this replica no longer owns after a membership
	// change stays scheduled here (as a standby), so that its new owners, which see the change
	// up to one Interval later and then schedule it, hold it before it is dropped: the change
	// moves a trigger through a time where three replicas hold it, never one where none does.
	// Default 6 × Interval (30s with the registry's default heartbeat): the views differ for
	// up to one Interval, and the new owner's resync takes time too.
	Handoff time.Duration
}

// Rebalance is what a membership change did (EventRebalanced).
type Rebalance struct {
	// Members is how many live schedulers the new view has.
	Members int
	// Primary and Standby count the triggers this replica holds as primary and as standby
	// once rebalanced; Releasing those it holds only until the handoff ends.
	Primary, Standby, Releasing int
	// Added and Removed count the jobs scheduled and removed by the rebalance.
	Added, Removed int
}

// shardState is the Scheduler's view of the membership; ring nil means unsharded.
type shardState struct {
	ring         *shard.Ring
	handoffUntil time.Time // jobs no longer owned are kept until then
	releasing    bool      // a resync is owed at handoffUntil to drop them
}

// membersTimeout bounds one read of the membership.
const membersTimeout = 5 * time.Second

// withShardDefaults fills in Sharding's defaults.
func (c *Sharding) withShardDefaults() {
	c.Interval = cmp.Or(c.Interval, 5*time.Second)
	c.Handoff = cmp.Or(c.Handoff, 6*c.Interval)
}

// ring returns the current view (nil: unsharded, every trigger is this replica's).
func (s *Scheduler) ring() *shard.Ring {
	s.shardMu.Lock()
	defer s.shardMu.Unlock()
	return s.shard.ring
}

// role is this replica's role for the trigger name ("workflow/trigger"); Primary when
// unsharded.
func (s *Scheduler) role(name string) shard.Role {
	r := s.ring()
	if r == nil {
		return shard.Primary
	}
	return r.Role(name)
}

// mineIDs says whether a resync schedules (or keeps) the trigger: owned, or held already while
// a handoff lasts. It builds no name (a full resync asks it for every trigger).
func (s *Scheduler) mineIDs(workflowID, triggerID string) bool {
	r := s.ring()
	if r == nil || r.RoleOfHash(shard.HashKeyOf(workflowID, '/', triggerID)) != shard.None {
		return true
	}
	s.shardMu.Lock()
	handoff := s.cfg.Now().Before(s.shard.handoffUntil)
	s.shardMu.Unlock()
	return handoff && s.holds(workflowID, triggerID)
}

// holds says whether the trigger has a job here.
func (s *Scheduler) holds(workflowID, triggerID string) bool {
	var buf [128]byte
	name := appendJobName(buf[:0], workflowID, triggerID)
	s.mu.Lock()
	defer s.mu.Unlock()
	j, _ := s.jobs.get(string(name))
	return j != nil
}

// readMembers reads the membership and says whether the view changed. The first read makes
// the first view, without a handoff (nothing is held yet); when it fails the view is this
// replica alone, which holds everything, as an unsharded scheduler does.
func (s *Scheduler) readMembers(ctx context.Context) bool {
	sh := s.cfg.Sharding
	readCtx, cancel := context.WithTimeout(ctx, membersTimeout)
	defer cancel()
	ids, err := sh.Members(readCtx)
	s.shardMu.Lock()
	defer s.shardMu.Unlock()
	first := s.shard.ring == nil
	if err != nil {
		if ctx.Err() == nil {
			s.cfg.Logger.Warn("scheduler membership unreadable; keeping the last view", slog.Any("error", err))
		}
		if first {
			s.shard.ring = shard.New(sh.Self, nil)
		}
		return false
	}
	r := shard.New(sh.Self, ids)
	if r.Equal(s.shard.ring) {
		return false
	}
	s.shard.ring = r
	if !first {
		s.shard.handoffUntil = s.cfg.Now().Add(sh.Handoff)
		s.shard.releasing = true
	}
	return true
}

// shardLoop reads the membership every Interval; on a change it rebalances, and once a
// handoff has run out it resyncs to drop the jobs released.
func (s *Scheduler) shardLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.Sharding.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changed := s.readMembers(ctx)
		s.shardMu.Lock()
		release := s.shard.releasing && !s.cfg.Now().Before(s.shard.handoffUntil)
		if release {
			s.shard.releasing = false
		}
		s.shardMu.Unlock()
		if changed || release {
			s.rebalance(ctx, changed)
		}
	}
}

// rebalance brings the jobs in step with the current view (a full resync, which schedules the
// triggers newly owned, catching them up from the ledger, and drops those released), then
// reports it.
func (s *Scheduler) rebalance(ctx context.Context, changed bool) {
	before := s.Scheduled()
	if err := s.ResyncAll(ctx); err != nil {
		if ctx.Err() == nil {
			s.cfg.Logger.Warn("rebalance failed; retrying at the next resync", slog.Any("error", err))
		}
		return
	}
	msg := "scheduler rebalanced"
	if !changed {
		msg = "scheduler released the triggers handed off"
	}
	s.reportShare(ctx, msg, before)
}

// reportShare tells of this replica's share as it is now, and of the jobs added and removed
// since before (the jobs held then): a log line, the metrics and EventRebalanced.
func (s *Scheduler) reportShare(ctx context.Context, msg string, before []string) {
	after := s.Scheduled()
	slices.Sort(before)
	rb := Rebalance{Members: s.ring().Len()}
	for _, name := range after {
		switch s.role(name) {
		case shard.Primary:
			rb.Primary++
		case shard.Standby:
			rb.Standby++
		default:
			rb.Releasing++
		}
		if _, found := slices.BinarySearch(before, name); !found {
			rb.Added++
		}
	}
	rb.Removed = len(before) + rb.Added - len(after)
	s.cfg.Logger.Info(msg, slog.Int("schedulers", rb.Members), slog.Int("primary", rb.Primary), slog.Int("standby", rb.Standby),
		slog.Int("releasing", rb.Releasing), slog.Int("added", rb.Added), slog.Int("removed", rb.Removed))
	s.cfg.Metrics.SchedulerShard(ctx, int64(rb.Primary), int64(rb.Standby), int64(rb.Added+rb.Removed))
	if s.cfg.OnEvent != nil {
		s.cfg.OnEvent(Event{Kind: EventRebalanced, Rebalance: rb})
	}
}

// standby lets the primary make the fire: a replica that is not the trigger's primary waits
// StandbyDelay (waited), then looks for the time in the ledger and the executions; decided is
// true when the time is decided there (nothing left to do). Otherwise, or when that read fails,
// the fire goes on as a primary's, and the database deduplicates it if the primary made it
// meanwhile.
func (s *Scheduler) standby(ctx context.Context, j *fireJob, f cron.Fire) (decided, waited bool) {
	if s.role(j.name) == shard.Primary {
		return false, false
	}
	t := time.NewTimer(s.cfg.StandbyDelay)
	select {
	case <-ctx.Done():
		t.Stop()
		return false, false // the fire gives up or owes it, as it would have
	case <-t.C:
	}
	at := f.Scheduled.UTC()
	found, err := s.store.FireDecided(ctx, j.workflowID(), j.triggerID(), at.Add(-time.Nanosecond), at)
	return err == nil && found[at], true
}
