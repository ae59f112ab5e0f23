package scheduling

import (
	"fmt"
	"slices"
	"sync"

	"github.com/reugn/go-quartz/quartz"
)

// JobQueue is an in-memory quartz.JobQueue: a binary heap ordered by next run time (ties in push
// order) with an index by job key, so Push, Pop, Remove and Get cost O(log n) or O(1) where
// go-quartz's default queue copies and scans every job (see the package doc). Install it with
// quartz.WithQueue(q, &sync.Mutex{}). It is safe for concurrent use on its own; the scheduler's
// locker only makes its read-modify-write sequences atomic.
type JobQueue struct {
	mu    sync.Mutex
	heap  []*queueItem
	index map[jobKeyID]*queueItem
	seq   uint64
}

var _ quartz.JobQueue = (*JobQueue)(nil)

type jobKeyID struct{ group, name string }

type queueItem struct {
	job   quartz.ScheduledJob
	key   jobKeyID
	runAt int64  // job.NextRunTime(), read once
	seq   uint64 // push order, to break ties
	pos   int    // position in the heap
}

// NewJobQueue returns an empty queue.
func NewJobQueue() *JobQueue {
	return &JobQueue{index: make(map[jobKeyID]*queueItem)}
}

// Push inserts job. A job whose key is already queued replaces it when its JobDetailOptions say
// Replace, and is refused (ErrIllegalState wrapping ErrJobAlreadyExists) otherwise, as in
// go-quartz's own queue.
func (q *JobQueue) Push(job quartz.ScheduledJob) error {
	if job == nil || job.JobDetail() == nil || job.JobDetail().JobKey() == nil {
		return fmt.Errorf("%w: scheduled job, job detail or job key is nil", quartz.ErrIllegalArgument)
	}
	key := keyOf(job.JobDetail().JobKey())
	q.mu.Lock()
	defer q.mu.Unlock()
	q.seq++
	if it, ok := q.index[key]; ok {
		if opts := job.JobDetail().Options(); opts == nil || !opts.Replace {
			return fmt.Errorf("%w: %w: %s", quartz.ErrIllegalState, quartz.ErrJobAlreadyExists, job.JobDetail().JobKey())
		}
		it.job, it.runAt, it.seq = job, job.NextRunTime(), q.seq
		q.fix(it.pos)
		return nil
	}
	it := &queueItem{job: job, key: key, runAt: job.NextRunTime(), seq: q.seq, pos: len(q.heap)}
	q.heap = append(q.heap, it)
	q.index[key] = it
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
	return q.removeAt(0).job, nil
}

// Head returns the job to run next without removing it; ErrIllegalState wrapping ErrQueueEmpty
// when there is none.
func (q *JobQueue) Head() (quartz.ScheduledJob, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.heap) == 0 {
		return nil, errQueueEmpty()
	}
	return q.heap[0].job, nil
}

// Get returns the job with the key without removing it; ErrIllegalState wrapping ErrJobNotFound
// when there is none.
func (q *JobQueue) Get(jobKey *quartz.JobKey) (quartz.ScheduledJob, error) {
	if jobKey == nil {
		return nil, fmt.Errorf("%w: job key is nil", quartz.ErrIllegalArgument)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	it, ok := q.index[keyOf(jobKey)]
	if !ok {
		return nil, errJobNotFound(jobKey)
	}
	return it.job, nil
}

// Remove removes and returns the job with the key; ErrIllegalState wrapping ErrJobNotFound when
// there is none.
func (q *JobQueue) Remove(jobKey *quartz.JobKey) (quartz.ScheduledJob, error) {
	if jobKey == nil {
		return nil, fmt.Errorf("%w: job key is nil", quartz.ErrIllegalArgument)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	it, ok := q.index[keyOf(jobKey)]
	if !ok {
		return nil, errJobNotFound(jobKey)
	}
	return q.removeAt(it.pos).job, nil
}

// ScheduledJobs returns the jobs that satisfy every matcher (all jobs when there are none), in
// the order they will run.
func (q *JobQueue) ScheduledJobs(matchers []quartz.Matcher[quartz.ScheduledJob]) ([]quartz.ScheduledJob, error) {
	q.mu.Lock()
	items := make([]*queueItem, 0, len(q.heap))
outer:
	for _, it := range q.heap {
		for _, m := range matchers {
			if !m.IsMatch(it.job) {
				continue outer
			}
		}
		items = append(items, it)
	}
	q.mu.Unlock()
	slices.SortFunc(items, func(a, b *queueItem) int {
		if less(a, b) {
			return -1
		}
		return 1 // keys are unique, so two items are never equal
	})
	jobs := make([]quartz.ScheduledJob, len(items))
	for i, it := range items {
		jobs[i] = it.job
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
	q.heap = nil
	q.index = make(map[jobKeyID]*queueItem)
	return nil
}

func keyOf(k *quartz.JobKey) jobKeyID { return jobKeyID{group: k.Group(), name: k.Name()} }

func errQueueEmpty() error {
	return fmt.Errorf("%w: %w", quartz.ErrIllegalState, quartz.ErrQueueEmpty)
}

func errJobNotFound(k *quartz.JobKey) error {
	return fmt.Errorf("%w: %w: %s", quartz.ErrIllegalState, quartz.ErrJobNotFound, k)
}

func less(a, b *queueItem) bool {
	if a.runAt != b.runAt {
		return a.runAt < b.runAt
	}
	return a.seq < b.seq
}

// removeAt takes the item at heap position i out of the heap and the index.
func (q *JobQueue) removeAt(i int) *queueItem {
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
	delete(q.index, it.key)
	return it
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
