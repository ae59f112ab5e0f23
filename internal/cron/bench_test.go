package cron

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/reugn/go-quartz/quartz"
)

// jobsForBench builds n scheduled jobs with run times spread over an hour.
func jobsForBench(n int) []quartz.ScheduledJob {
	jobs := make([]quartz.ScheduledJob, n)
	for i := range n {
		jobs[i] = newScheduled(fmt.Sprintf("wf-%06d", i), "cron", int64((i*7919)%3600)*int64(time.Second), false)
	}
	return jobs
}

func loadQueue(b *testing.B, q *JobQueue, jobs []quartz.ScheduledJob) {
	for _, j := range jobs {
		if err := q.Push(j); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQueuePush100k loads 100,000 jobs into the heap queue.
func BenchmarkQueuePush100k(b *testing.B) {
	jobs := jobsForBench(100_000)
	b.ReportAllocs()
	for b.Loop() {
		loadQueue(b, NewJobQueue(), jobs)
	}
}

// scheduleAll loads n jobs into q through go-quartz's StdScheduler (not started), as the scheduler
// role does; go-quartz's default queue only accepts the scheduler's own ScheduledJob type.
func scheduleAll(b *testing.B, q quartz.JobQueue, details []*quartz.JobDetail, triggers []quartz.Trigger) {
	sched, err := quartz.NewStdScheduler(quartz.WithQueue(q, &sync.Mutex{}))
	if err != nil {
		b.Fatal(err)
	}
	for i, d := range details {
		if err := sched.ScheduleJob(d, triggers[i]); err != nil {
			b.Fatal(err)
		}
	}
}

func detailsForBench(n int) ([]*quartz.JobDetail, []quartz.Trigger) {
	details := make([]*quartz.JobDetail, n)
	triggers := make([]quartz.Trigger, n)
	for i := range n {
		details[i] = quartz.NewJobDetail(&testJob{}, quartz.NewJobKeyWithGroup(fmt.Sprintf("wf-%06d", i), "cron"))
		triggers[i] = quartz.NewSimpleTrigger(time.Duration(1+(i*7919)%3600) * time.Second)
	}
	return details, triggers
}

// BenchmarkQueueLoad compares loading n jobs into the heap queue and into go-quartz's default
// queue, at sizes where the default is still bearable.
func BenchmarkQueueLoad(b *testing.B) {
	for _, n := range []int{1000, 5000} {
		details, triggers := detailsForBench(n)
		b.Run(fmt.Sprintf("heap/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				scheduleAll(b, NewJobQueue(), details, triggers)
			}
		})
		b.Run(fmt.Sprintf("quartz-default/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				scheduleAll(b, quartz.NewJobQueue(), details, triggers)
			}
		})
	}
}

// BenchmarkQueueCycle is the scheduler's steady state with 5,000 jobs: pop the head, push it back.
func BenchmarkQueueCycle(b *testing.B) {
	details, triggers := detailsForBench(5000)
	for _, tc := range []struct {
		name string
		q    quartz.JobQueue
	}{{"heap", NewJobQueue()}, {"quartz-default", quartz.NewJobQueue()}} {
		b.Run(tc.name, func(b *testing.B) {
			scheduleAll(b, tc.q, details, triggers)
			for b.Loop() {
				j, err := tc.q.Pop()
				if err != nil {
					b.Fatal(err)
				}
				if err := tc.q.Push(j); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkNextFireTime compares our trigger with go-quartz's CronTrigger it wraps.
func BenchmarkNextFireTime(b *testing.B) {
	cases := []struct{ expr, zone string }{
		{"*/15 * * * *", "Europe/Berlin"},
		{"30 2 * * *", "America/New_York"},
		{"0 15 10 ? * 6L", ""},
	}
	for _, c := range cases {
		trig, err := NewTrigger(TriggerConfig{WorkflowID: "wf-1", Expression: c.expr, TimeZone: c.zone})
		if err != nil {
			b.Fatal(err)
		}
		ct, err := ParseCron(c.expr, trig.Location())
		if err != nil {
			b.Fatal(err)
		}
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
		for _, tc := range []struct {
			name string
			trig quartz.Trigger
		}{{"ours", trig}, {"quartz", ct}} {
			b.Run(fmt.Sprintf("%s/%s %s", tc.name, c.expr, c.zone), func(b *testing.B) {
				b.ReportAllocs()
				prev := start
				for i := 0; b.Loop(); i++ {
					if i%1000 == 0 {
						prev = start // stay within a few years
					}
					next, err := tc.trig.NextFireTime(prev)
					if err != nil {
						b.Fatal(err)
					}
					prev = next
				}
			})
		}
	}
}
