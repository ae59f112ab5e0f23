package cron

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"
	"github.com/reugn/go-quartz/matcher"
	"github.com/reugn/go-quartz/quartz"
)

// testJob counts its executions and signals each one.
type testJob struct {
	runs  atomic.Int64
	fired chan struct{}
}

func (j *testJob) Execute(context.Context) error {
	j.runs.Add(1)
	select {
	case j.fired <- struct{}{}:
	default:
	}
	return nil
}

func (j *testJob) Description() string { return "testJob" }

// scheduled is a quartz.ScheduledJob with a fixed next run time.
type testScheduled struct {
	detail *quartz.JobDetail
	runAt  int64
}

func (s *testScheduled) JobDetail() *quartz.JobDetail { return s.detail }
func (s *testScheduled) Trigger() quartz.Trigger      { return quartz.NewSimpleTrigger(time.Second) }
func (s *testScheduled) NextRunTime() int64           { return s.runAt }

func newScheduled(name, group string, runAt int64, replace bool) *testScheduled {
	opts := quartz.NewDefaultJobDetailOptions()
	opts.Replace = replace
	return &testScheduled{
		detail: quartz.NewJobDetailWithOptions(&testJob{}, quartz.NewJobKeyWithGroup(name, group), opts),
		runAt:  runAt,
	}
}

func TestJobQueueOrder(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	q := NewJobQueue()
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 2000
	want := make([]int64, n)
	for i := range n {
		want[i] = rng.Int64N(500) // many ties
		is.NoErr(q.Push(newScheduled(fmt.Sprint(i), "", want[i], false)))
	}
	size, err := q.Size()
	is.NoErr(err)
	is.Equal(size, n)

	// Remove a third of the jobs by key, from anywhere in the heap.
	removed := map[int]bool{}
	for i := 0; i < n; i += 3 {
		job, err := q.Remove(quartz.NewJobKey(fmt.Sprint(i)))
		is.NoErr(err)
		is.Equal(job.NextRunTime(), want[i])
		removed[i] = true
	}
	var rest []int64
	for i, w := range want {
		if !removed[i] {
			rest = append(rest, w)
		}
	}
	sort.Slice(rest, func(a, b int) bool { return rest[a] < rest[b] })

	listed, err := q.ScheduledJobs(nil)
	is.NoErr(err)
	is.Equal(len(listed), len(rest))
	for i, job := range listed {
		is.Equal(job.NextRunTime(), rest[i]) // listed in run order
	}
	var prevName string
	for i := range rest {
		head, err := q.Head()
		is.NoErr(err)
		job, err := q.Pop()
		is.NoErr(err)
		is.Equal(head, job)                  // Head is what Pop returns
		is.Equal(job.NextRunTime(), rest[i]) // popped in run order
		if i > 0 && rest[i] == rest[i-1] {
			var a, b int
			_, err = fmt.Sscan(prevName, &a)
			is.NoErr(err) // job names are push indexes
			_, err = fmt.Sscan(job.JobDetail().JobKey().Name(), &b)
			is.NoErr(err)
			is.True(a < b) // ties in push order
		}
		prevName = job.JobDetail().JobKey().Name()
	}
	_, err = q.Pop()
	is.True(errors.Is(err, quartz.ErrQueueEmpty))   // empty
	is.True(errors.Is(err, quartz.ErrIllegalState)) // as go-quartz wraps it
	_, err = q.Head()
	is.True(errors.Is(err, quartz.ErrQueueEmpty))
}

func TestJobQueueKeys(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	q := NewJobQueue()
	is.NoErr(q.Push(newScheduled("a", "g1", 30, false)))
	is.NoErr(q.Push(newScheduled("a", "g2", 20, false))) // same name, other group
	is.NoErr(q.Push(newScheduled("b", "g1", 10, false)))

	err := q.Push(newScheduled("a", "g1", 5, false))
	is.True(errors.Is(err, quartz.ErrJobAlreadyExists)) // duplicate refused
	is.True(errors.Is(err, quartz.ErrIllegalState))
	is.NoErr(q.Push(newScheduled("a", "g1", 5, true))) // unless it replaces
	size, err := q.Size()
	is.NoErr(err)
	is.Equal(size, 3) // replaced, not added
	head, err := q.Head()
	is.NoErr(err)
	is.Equal(head.JobDetail().JobKey().String(), "g1::a") // moved to the front

	job, err := q.Get(quartz.NewJobKeyWithGroup("a", "g2"))
	is.NoErr(err)
	is.Equal(job.NextRunTime(), int64(20))
	_, err = q.Get(quartz.NewJobKey("a"))
	is.True(errors.Is(err, quartz.ErrJobNotFound)) // default group holds nothing
	_, err = q.Remove(quartz.NewJobKey("a"))
	is.True(errors.Is(err, quartz.ErrJobNotFound))
	_, err = q.Get(nil)
	is.True(errors.Is(err, quartz.ErrIllegalArgument))
	_, err = q.Remove(nil)
	is.True(errors.Is(err, quartz.ErrIllegalArgument))
	is.True(errors.Is(q.Push(nil), quartz.ErrIllegalArgument))

	g1, err := q.ScheduledJobs([]quartz.Matcher[quartz.ScheduledJob]{matcher.JobGroupEquals("g1")})
	is.NoErr(err)
	is.Equal(len(g1), 2)
	g1a, err := q.ScheduledJobs([]quartz.Matcher[quartz.ScheduledJob]{matcher.JobGroupEquals("g1"), matcher.JobNameEquals("a")})
	is.NoErr(err)
	is.Equal(len(g1a), 1) // every matcher must match

	is.NoErr(q.Clear())
	size, err = q.Size()
	is.NoErr(err)
	is.Equal(size, 0)
	is.NoErr(q.Push(newScheduled("a", "g1", 1, false))) // usable after Clear
}

func TestJobQueueConcurrent(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	q := NewJobQueue()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 500 {
				name := fmt.Sprintf("%d-%d", w, i)
				_ = q.Push(newScheduled(name, "", int64(i), false))
				if i%2 == 0 {
					_, _ = q.Remove(quartz.NewJobKey(name))
				}
				_, _ = q.Head()
			}
		})
	}
	wg.Wait()
	size, err := q.Size()
	is.NoErr(err)
	is.Equal(size, 8*250)
}

// TestJobQueueWithScheduler runs go-quartz's StdScheduler on the queue: jobs fire, and the
// scheduler's key operations (get, pause, resume, delete, list, clear) go through it.
func TestJobQueueWithScheduler(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	q := NewJobQueue()
	sched, err := quartz.NewStdScheduler(quartz.WithQueue(q, &sync.Mutex{}))
	is.NoErr(err)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	sched.Start(ctx)
	defer func() { sched.Stop(); sched.Wait(t.Context()) }()

	fast := &testJob{fired: make(chan struct{}, 1)}
	fastKey := quartz.NewJobKeyWithGroup("fast", "simple")
	is.NoErr(sched.ScheduleJob(quartz.NewJobDetail(fast, fastKey), quartz.NewSimpleTrigger(5*time.Millisecond)))

	// One of ours, every second, jitter off.
	cron := &testJob{fired: make(chan struct{}, 1)}
	trig := newTestTrigger(t, TriggerConfig{Expression: "* * * * * ?"})
	cronKey := quartz.NewJobKeyWithGroup("wf-test", "cron")
	is.NoErr(sched.ScheduleJob(quartz.NewJobDetail(cron, cronKey), trig))

	idle := &testJob{fired: make(chan struct{}, 1)}
	idleKey := quartz.NewJobKeyWithGroup("idle", "simple")
	is.NoErr(sched.ScheduleJob(quartz.NewJobDetail(idle, idleKey), quartz.NewSimpleTrigger(time.Hour)))
	err = sched.ScheduleJob(quartz.NewJobDetail(idle, idleKey), quartz.NewSimpleTrigger(time.Hour))
	is.True(errors.Is(err, quartz.ErrJobAlreadyExists)) // the queue refuses a duplicate key

	wait := func(j *testJob, what string) {
		t.Helper()
		select {
		case <-j.fired:
		case <-time.After(3 * time.Second):
			t.Fatalf("%s did not fire", what)
		}
	}
	wait(fast, "simple trigger")
	wait(fast, "simple trigger, rescheduled")
	wait(cron, "cron trigger")

	keys, err := sched.GetJobKeys(matcher.JobGroupEquals("simple"))
	is.NoErr(err)
	is.Equal(len(keys), 2)
	got, err := sched.GetScheduledJob(cronKey)
	is.NoErr(err)
	is.Equal(got.Trigger(), quartz.Trigger(trig))

	is.NoErr(sched.PauseJob(fastKey))
	paused, err := sched.GetScheduledJob(fastKey)
	is.NoErr(err)
	is.True(paused.JobDetail().Options().Suspended)
	is.NoErr(sched.ResumeJob(fastKey))
	select { // drop a signal left from before the pause
	case <-fast.fired:
	default:
	}
	wait(fast, "resumed job")

	is.NoErr(sched.DeleteJob(idleKey))
	_, err = sched.GetScheduledJob(idleKey)
	is.True(errors.Is(err, quartz.ErrJobNotFound))
	is.NoErr(sched.Clear())
	size, err := q.Size()
	is.NoErr(err)
	is.Equal(size, 0)
}

// compactJob is a CompactJob: the queue keeps it alone and builds its detail again.
type compactJob struct {
	testJob
	name    string
	trigger quartz.Trigger
	item    QueueItem
}

func (j *compactJob) QueueItem() *QueueItem { return &j.item }

func (j *compactJob) JobDetail() *quartz.JobDetail {
	return quartz.NewJobDetailWithOptions(j, quartz.NewJobKeyWithGroup(j.name, "cron"), &quartz.JobDetailOptions{Replace: true})
}
func (j *compactJob) Trigger() quartz.Trigger { return j.trigger }

// compactScheduled is what go-quartz pushes for a compact job.
type compactScheduled struct {
	job   *compactJob
	runAt int64
}

func (s *compactScheduled) JobDetail() *quartz.JobDetail { return s.job.JobDetail() }
func (s *compactScheduled) Trigger() quartz.Trigger      { return s.job.trigger }
func (s *compactScheduled) NextRunTime() int64           { return s.runAt }

func TestJobQueueCompactJobs(t *testing.T) {
	t.Parallel()
	t.Run("index", func(t *testing.T) {
		t.Parallel()
		testCompactJobs(t, func(map[string]*compactJob) *JobQueue { return NewJobQueue() })
	})
	t.Run("lookup", func(t *testing.T) {
		t.Parallel()
		testCompactJobs(t, func(table map[string]*compactJob) *JobQueue {
			return NewJobQueueWithLookup(func(k *quartz.JobKey) CompactJob {
				if j, ok := table[k.Name()]; ok && k.Group() == "cron" {
					return j
				}
				return nil
			})
		})
	})
}

// testCompactJobs tests compact jobs on the queue newQueue returns for the table of jobs its
// caller keeps (which a queue with a lookup finds them in).
func testCompactJobs(t *testing.T, newQueue func(map[string]*compactJob) *JobQueue) {
	is := is.New(t)
	table := map[string]*compactJob{}
	q := newQueue(table)
	trig := quartz.NewSimpleTrigger(time.Second)
	jobs := make([]*compactJob, 100)
	for i := range jobs {
		jobs[i] = &compactJob{name: fmt.Sprint(i), trigger: trig}
		is.NoErr(q.Push(&compactScheduled{jobs[i], int64(100 - i)}))
		table[jobs[i].name] = jobs[i]
	}
	is.NoErr(q.Push(newScheduled("plain", "cron", 50, false))) // kept as it is
	if q.lookup == nil {
		_, isCompact := q.index[jobKeyID{"cron", "7"}].job.(CompactJob)
		is.True(isCompact) // kept as the job alone
	} else {
		is.Equal(len(q.index), 1) // the plain job only
	}
	is.True(jobs[7].item.job != nil) // its place in the heap is its own

	// Pushed again (Replace): the same place, a new run time.
	is.NoErr(q.Push(&compactScheduled{jobs[50], 150}))
	got, err := q.Get(quartz.NewJobKeyWithGroup("50", "cron"))
	is.NoErr(err)
	is.Equal(got.NextRunTime(), int64(150))
	// Replaced by another job under its key: the new one only.
	again := &compactJob{name: "50", trigger: trig}
	is.NoErr(q.Push(&compactScheduled{again, 50}))
	table["50"] = again
	got, err = q.Get(quartz.NewJobKeyWithGroup("50", "cron"))
	is.NoErr(err)
	is.True(got.JobDetail().Job() == quartz.Job(again))
	size, err := q.Size()
	is.NoErr(err)
	is.Equal(size, 101)

	head, err := q.Head()
	is.NoErr(err)
	is.Equal(head.NextRunTime(), int64(1))                  // the earliest
	is.Equal(head.JobDetail().JobKey().Name(), "99")        // its key, built again
	is.True(head.JobDetail().Job() == quartz.Job(jobs[99])) // the same job
	is.True(head.Trigger() == trig)
	is.True(head.JobDetail().Options().Replace) // its options

	got, err = q.Get(quartz.NewJobKeyWithGroup("7", "cron"))
	is.NoErr(err)
	is.Equal(got.NextRunTime(), int64(93))
	removed, err := q.Remove(quartz.NewJobKeyWithGroup("7", "cron"))
	is.NoErr(err)
	is.Equal(removed.NextRunTime(), int64(93))
	_, err = q.Get(quartz.NewJobKeyWithGroup("7", "cron"))
	is.True(errors.Is(err, quartz.ErrJobNotFound)) // gone from the index
	delete(table, "7")
	all, err := q.ScheduledJobs([]quartz.Matcher[quartz.ScheduledJob]{matcher.JobGroupEquals("cron")})
	is.NoErr(err)
	is.Equal(len(all), 100) // 99 compact and the plain one
	for i := 1; i < len(all); i++ {
		is.True(all[i-1].NextRunTime() <= all[i].NextRunTime()) // in run order
	}

	// A suspended detail, or another trigger, is not what the job builds: kept as pushed.
	opts := &quartz.JobDetailOptions{Replace: true, Suspended: true}
	suspended := &testScheduled{detail: quartz.NewJobDetailWithOptions(jobs[3], quartz.NewJobKeyWithGroup("3", "cron"), opts), runAt: 7}
	is.NoErr(q.Push(suspended))
	got, err = q.Get(quartz.NewJobKeyWithGroup("3", "cron"))
	is.NoErr(err)
	is.True(got == quartz.ScheduledJob(suspended)) // not rebuilt

	// Pop returns every job in order, each rebuilt with its run time.
	prev := int64(-1)
	for range 100 {
		job, err := q.Pop()
		is.NoErr(err)
		is.True(job.NextRunTime() >= prev)
		prev = job.NextRunTime()
	}
	size, err = q.Size()
	is.NoErr(err)
	is.Equal(size, 0)
}

// OnLate: Pop reports the jobs it returns that are later than the lateness given, and only
// those; Head, which go-quartz calls to wait for the next job, reports nothing.
func TestJobQueueOnLate(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	q := NewJobQueue()
	var reported []string
	q.OnLate(time.Minute, func(j quartz.ScheduledJob) { reported = append(reported, j.JobDetail().JobKey().Name()) })
	now := time.Now()
	is.NoErr(q.Push(newScheduled("an hour late", "", now.Add(-time.Hour).UnixNano(), false)))
	is.NoErr(q.Push(newScheduled("two minutes late", "", now.Add(-2*time.Minute).UnixNano(), false)))
	is.NoErr(q.Push(newScheduled("a second late", "", now.Add(-time.Second).UnixNano(), false)))
	is.NoErr(q.Push(newScheduled("due in an hour", "", now.Add(time.Hour).UnixNano(), false)))
	_, err := q.Head()
	is.NoErr(err)
	is.Equal(len(reported), 0) // Head reports nothing
	for range 4 {
		_, err := q.Pop()
		is.NoErr(err)
	}
	is.Equal(reported, []string{"an hour late", "two minutes late"})
}
