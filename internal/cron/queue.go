package cron

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/reugn/go-quartz/quartz"
)

// JobQueue is an in-memory quartz.JobQueue: a binary heap ordered by next run time (ties in push
// order) with an index by job key, so Push, Pop, Remove and Get cost O(log n) or O(1) where
// go-quartz's default queue copies and scans every job (see the package doc). Install it with
// quartz.WithQueue(q, &sync.Mutex{}). It is safe for concurrent use on its own; the scheduler's
// locker only makes its read-modify-write sequences atomic.
//
// A job whose quartz.Job is a CompactJob is kept as that job alone: its place in the heap (its
// QueueItem, 40 bytes) lives in the job, where a go-quartz ScheduledJob, JobDetail, JobKey and
// options cost some 200 more; the go-quartz objects are built again when go-quartz asks for the
// job. A queue made by NewJobQueueWithLookup does not index its compact jobs either: its
// caller's own table of jobs finds them.
type JobQueue struct {
	mu     sync.Mutex
	heap   []*QueueItem
	index  map[jobKeyID]*QueueItem // every job, or with a lookup the jobs it does not find
	lookup func(*quartz.JobKey) CompactJob
	seq    uint64

	late     time.Duration             // OnLate's lateness; 0: no report
	lateFunc func(quartz.ScheduledJob) // OnLate's report
}

var _ quartz.JobQueue = (*JobQueue)(nil)

// CompactJob is a quartz.Job that can build its go-quartz JobDetail and Trigger again and holds
// its own place in a JobQueue, so that the queue need not keep anything else of it (see
// JobQueue). A CompactJob is queued in one JobQueue at a time.
type CompactJob interface {
	quartz.Job
	// JobDetail returns a detail of the job equal to the one it is scheduled with: its key and
	// options. Called when go-quartz asks the queue for the job.
	JobDetail() *quartz.JobDetail
	// Trigger returns the trigger the job is scheduled with, the same value each call.
	Trigger() quartz.Trigger
	// QueueItem returns the job's place in the queue, the same pointer each call: a zero
	// QueueItem the job holds and leaves to the queue.
	QueueItem() *QueueItem
}

type jobKeyID struct{ group, name string }

// QueueItem is a job's place in a JobQueue. A CompactJob holds its own (see CompactJob); its
// fields are the queue's, guarded by the queue's lock.
type QueueItem struct {
	job   any    // a quartz.ScheduledJob, or a CompactJob standing for one (scheduled)
	runAt int64  // job.NextRunTime(), read once
	seq   uint64 // push order, to break ties
	pos   int    // position in the heap while queued
}

// compactOf returns the CompactJob that can stand for job in the queue, or nil: a job whose
// detail and trigger it builds again as they are (not suspended, the same trigger).
func compactOf(job quartz.ScheduledJob) CompactJob {
	c, ok := job.JobDetail().Job().(CompactJob)
	if !ok || job.JobDetail().Options().Suspended || job.Trigger() != c.Trigger() {
		return nil
	}
	return c
}

// scheduled returns the item's job as go-quartz sees it.
func (it *QueueItem) scheduled() quartz.ScheduledJob {
	if c, ok := it.job.(CompactJob); ok {
		return &scheduledJob{detail: c.JobDetail(), trigger: c.Trigger(), runAt: it.runAt}
	}
	return it.job.(quartz.ScheduledJob)
}

// scheduledJob is the quartz.ScheduledJob of a CompactJob, built when go-quartz asks for it.
type scheduledJob struct {
	detail  *quartz.JobDetail
	trigger quartz.Trigger
	runAt   int64
}

func (j *scheduledJob) JobDetail() *quartz.JobDetail { return j.detail }
func (j *scheduledJob) Trigger() quartz.Trigger      { return j.trigger }
func (j *scheduledJob) NextRunTime() int64           { return j.runAt }

// NewJobQueue returns an empty queue.
func NewJobQueue() *JobQueue {
	return &JobQueue{index: make(map[jobKeyID]*QueueItem)}
}

// NewJobQueueWithLookup returns an empty queue that finds its compact jobs with lookup instead of
// an index of its own. lookup returns the CompactJob its caller scheduled under the key, or nil:
// from before the job is pushed until its replacement's Push returned or after its Remove
// returned (a job it returns that is not queued counts as none). It is called with the queue's
// lock held and must not call the queue.
func NewJobQueueWithLookup(lookup func(*quartz.JobKey) CompactJob) *JobQueue {
	return &JobQueue{index: make(map[jobKeyID]*QueueItem), lookup: lookup}
}

// OnLate makes Pop report, through f, each job it returns that is later than late: whose run
// time is more than late before the time Pop is called. f runs with the queue's lock (and the
// go-quartz loop's) held: it must only take note of the job, never block or call the queue. Set
// it before the queue is used.
//
// go-quartz does not run a job its loop pops more than its outdated threshold late; it reports
// it on its misfired channel, but drops the report when the channel is full. A late below that
// threshold makes Pop's report the one that cannot be lost (a job reported and then run all the
// same is for the caller to tell apart, by what the run recorded).
func (q *JobQueue) OnLate(late time.Duration, f func(quartz.ScheduledJob)) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.late, q.lateFunc = late, f
}

// find returns the queued item of key, or nil.
func (q *JobQueue) find(key *quartz.JobKey) *QueueItem {
	if it, ok := q.index[keyOf(key)]; ok {
		return it
	}
	if q.lookup == nil {
		return nil
	}
	c := q.lookup(key)
	if c == nil {
		return nil
	}
	if it := c.QueueItem(); it.pos < len(q.heap) && q.heap[it.pos] == it {
		return it
	}
	return nil
}

// indexed says whether the index holds it: every item, unless the lookup finds it.
func (q *JobQueue) indexed(it *QueueItem) bool {
	if q.lookup == nil {
		return true
	}
	_, compact := it.job.(CompactJob)
	return !compact
}

// Push inserts job. A job whose key is already queued replaces it when its JobDetailOptions say
// Replace, and is refused (ErrIllegalState wrapping ErrJobAlreadyExists) otherwise, as in
// go-quartz's own queue.
func (q *JobQueue) Push(job quartz.ScheduledJob) error {
	if job == nil || job.JobDetail() == nil || job.JobDetail().JobKey() == nil {
		return fmt.Errorf("%w: scheduled job, job detail or job key is nil", quartz.ErrIllegalArgument)
	}
	jobKey := job.JobDetail().JobKey()
	runAt := job.NextRunTime()
	var it *QueueItem
	if c := compactOf(job); c != nil {
		it = c.QueueItem()
		it.job = c
	} else {
		it = &QueueItem{job: job}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.seq++
	if cur := q.find(jobKey); cur != nil {
		if opts := job.JobDetail().Options(); opts == nil || !opts.Replace {
			return fmt.Errorf("%w: %w: %s", quartz.ErrIllegalState, quartz.ErrJobAlreadyExists, jobKey)
		}
		// it takes cur's place in the heap (cur may be it).
		if q.indexed(cur) {
			delete(q.index, keyOf(jobKey))
		}
		it.runAt, it.seq, it.pos = runAt, q.seq, cur.pos
		q.heap[it.pos] = it
		if q.indexed(it) {
			q.index[keyOf(jobKey)] = it
		}
		q.fix(it.pos)
		return nil
	}
	it.runAt, it.seq, it.pos = runAt, q.seq, len(q.heap)
	q.heap = append(q.heap, it)
	if q.indexed(it) {
		q.index[keyOf(jobKey)] = it
	}
	q.up(it.pos)
	return nil
}

// Pop removes and returns the job to run next; ErrIllegalState wrapping ErrQueueEmpty when there
// is none.
func (q *JobQueue) Pop() (quartz.ScheduledJob, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.heap) == 0 {
		return nil, errQueueEmpty()
	}
	job := q.removeAt(0)
	if q.lateFunc != nil && job.NextRunTime() < time.Now().UnixNano()-q.late.Nanoseconds() {
		q.lateFunc(job)
	}
	return job, nil
}

// Head returns the job to run next without removing it; ErrIllegalState wrapping ErrQueueEmpty
// when there is none.
func (q *JobQueue) Head() (quartz.ScheduledJob, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.heap) == 0 {
		return nil, errQueueEmpty()
	}
	return q.heap[0].scheduled(), nil
}

// Get returns the job with the key without removing it; ErrIllegalState wrapping ErrJobNotFound
// when there is none.
func (q *JobQueue) Get(jobKey *quartz.JobKey) (quartz.ScheduledJob, error) {
	if jobKey == nil {
		return nil, fmt.Errorf("%w: job key is nil", quartz.ErrIllegalArgument)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	it := q.find(jobKey)
	if it == nil {
		return nil, errJobNotFound(jobKey)
	}
	return it.scheduled(), nil
}

// Remove removes and returns the job with the key; ErrIllegalState wrapping ErrJobNotFound when
// there is none.
func (q *JobQueue) Remove(jobKey *quartz.JobKey) (quartz.ScheduledJob, error) {
	if jobKey == nil {
		return nil, fmt.Errorf("%w: job key is nil", quartz.ErrIllegalArgument)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	it := q.find(jobKey)
	if it == nil {
		return nil, errJobNotFound(jobKey)
	}
	return q.removeAt(it.pos), nil
}

// ScheduledJobs returns the jobs that satisfy every matcher (all jobs when there are none), in
// the order they will run.
func (q *JobQueue) ScheduledJobs(matchers []quartz.Matcher[quartz.ScheduledJob]) ([]quartz.ScheduledJob, error) {
	q.mu.Lock()
	type match struct {
		it  *QueueItem
		job quartz.ScheduledJob
	}
	items := make([]match, 0, len(q.heap))
outer:
	for _, it := range q.heap {
		job := it.scheduled()
		for _, m := range matchers {
			if !m.IsMatch(job) {
				continue outer
			}
		}
		items = append(items, match{it, job})
	}
	q.mu.Unlock()
	slices.SortFunc(items, func(a, b match) int {
		if less(a.it, b.it) {
			return -1
		}
		return 1 // keys are unique, so two items are never equal
	})
	jobs := make([]quartz.ScheduledJob, len(items))
	for i, m := range items {
		jobs[i] = m.job
	}
	return jobs, nil
}

// Size returns the number of queued jobs.
func (q *JobQueue) Size() (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.heap), nil
}

// Clear removes every job.
func (q *JobQueue) Clear() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.heap = nil // a compact job's item is queued no more: the heap no longer holds it
	q.index = make(map[jobKeyID]*QueueItem)
	return nil
}

func keyOf(k *quartz.JobKey) jobKeyID { return jobKeyID{group: k.Group(), name: k.Name()} }

func errQueueEmpty() error {
	return fmt.Errorf("%w: %w", quartz.ErrIllegalState, quartz.ErrQueueEmpty)
}

func errJobNotFound(k *quartz.JobKey) error {
	return fmt.Errorf("%w: %w: %s", quartz.ErrIllegalState, quartz.ErrJobNotFound, k)
}

func less(a, b *QueueItem) bool {
	if a.runAt != b.runAt {
		return a.runAt < b.runAt
	}
	return a.seq < b.seq
}

// removeAt takes the item at heap position i out of the heap and the index and returns its job.
func (q *JobQueue) removeAt(i int) quartz.ScheduledJob {
	it := q.heap[i]
	last := len(q.heap) - 1
	if i != last {
		q.swap(i, last)
	}
	q.heap[last] = nil
	q.heap = q.heap[:last]
	if i != last {
		q.fix(i)
	}
	job := it.scheduled()
	if q.indexed(it) {
		delete(q.index, keyOf(job.JobDetail().JobKey()))
	}
	return job
}

func (q *JobQueue) swap(i, j int) {
	q.heap[i], q.heap[j] = q.heap[j], q.heap[i]
	q.heap[i].pos, q.heap[j].pos = i, j
}

func (q *JobQueue) fix(i int) {
	if !q.down(i) {
		q.up(i)
	}
}

func (q *JobQueue) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !less(q.heap[i], q.heap[parent]) {
			return
		}
		q.swap(i, parent)
		i = parent
	}
}

// down sifts the item at i towards the leaves and says whether it moved.
func (q *JobQueue) down(i int) bool {
	start, n := i, len(q.heap)
	for {
		child := 2*i + 1
		if child >= n {
			break
		}
		if r := child + 1; r < n && less(q.heap[r], q.heap[child]) {
			child = r
		}
		if !less(q.heap[child], q.heap[i]) {
			break
		}
		q.swap(i, child)
		i = child
	}
	return i > start
}
