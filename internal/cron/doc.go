// Package cron turns cron triggers into fire times. It is pure logic, with no database or
// Redis: the scheduler role wires it to go-quartz and the store.
//
//   - cron.go: parsing of standard 5-field, Quartz 6/7-field and @-macro expressions; IANA zones.
//     A 5-field day-of-week keeps its classic meaning in Quartz terms: 0 and 7 are Sunday, "5L"
//     is the last Friday, "5#3" the third, "5-7" Friday to Sunday (cron_test.go checks every
//     form against the calendar).
//   - trigger.go, dst.go, calendar.go: Trigger, the quartz.Trigger that adds jitter and handles
//     DST by the policies below.
//   - jitter.go: the jitter formula.
//   - misfire.go: what to do about fires missed while no scheduler ran.
//   - preview.go: the next N fires, and the fires of a past range (backfill).
//   - dstreport.go: the zone transitions of the coming months that touch a trigger, and what it
//     does there (GetDstReport, deploy warnings).
//   - queue.go: JobQueue, the quartz.JobQueue the scheduler installs with quartz.WithQueue.
//   - schedules.go: Schedules, triggers sharing one parsed schedule per expression, zone,
//     window and policies.
//
// # Jitter
//
// Every fire of a workflow's trigger is moved later by the same offset:
//
//	jitter_seconds = int(md5(workflow_id).hexdigest()[:8], 16) % window
//
// window is the trigger's jitter_window_seconds: 300 when unset, 0 turns jitter off. The id is
// hashed as UTF-8, so every replica (and any other language) computes the same offset. The fire
// time is the cron's nominal time plus the offset; the spacing between fires stays the cron's own.
// 10,000 ids fall evenly over the 300 one-second buckets (jitter_test.go: chi-square 260.8, the
// 0.1% critical value with 299 degrees of freedom is 380.3).
//
// # DST
//
// go-quartz v0.15.2's CronTrigger, asked for "0 */15 * * * ?" in Europe/Berlin after 01:50 CEST
// on 2026-10-25, answers 02:00 CET: the four fires 02:00-02:45 CEST are lost (likewise
// "0 */20 * * * ?" in America/New_York loses 01:00-01:40 EST on 2026-11-01). It also rolls
// impossible dates over ("0 0 12 29 2 ?" fires on March 1st of common years). So Trigger matches
// the cron fields against wall-clock time, with a CronTrigger in UTC where no clock jumps, and
// maps wall-clock times to instants itself, one span of constant UTC offset at a time (dst.go),
// skipping dates the day-of-month and month fields do not allow (calendar.go).
//
// Two per-trigger policies (internal/policy.RepeatedHour and SkippedHour, defined there) decide what
// the transitions do; by default (their zero values) they follow classic cron:
//
//	hour field                     repeated hour (clocks go back)   skipped hour (clocks go forward)
//	fixed: "30 2 * * *", "0 1,13"  ONCE: the first pass only        SHIFT: at the first instant after the gap
//	wildcard, range or step        TWICE: by real time, both passes SKIP: those wall times never came
//
// Examples, Europe/Berlin: "30 2 * * *" fires at 02:30 CEST on 2026-10-25 and not again at 02:30
// CET (TWICE: both); on 2026-03-29 it fires at 03:00 CEST (SKIP: not that day). "*/15 * * * *"
// fires every 15 minutes of real time through both transitions: eight times between 02:00 CEST
// and 03:00 CET in October, 01:45 CET then 03:00 CEST in March. In Australia/Lord_Howe, whose
// clocks move by 30 minutes, "15 * * * *" skips 02:15 (SHIFT: fires at 02:30 LHDT). Several
// skipped times of one gap make one SHIFT fire ("*/15 2 * * *": once at 03:00). The overrides are
// policy.RepeatedHourOnce/Twice and policy.SkippedHourShift/Skip.
//
// One parser: the deployments package validates a cron trigger by building this Trigger and
// asking for its next fire, so an expression deploy accepts is one the scheduler can fire, and
// one that never fires (February 30th, a year past 2262, an nth weekday "#" in a year field,
// which go-quartz would search for without end) is refused at deploy. FuzzTrigger and
// FuzzNormalizeCron (fuzz_test.go) hold these as seeds; docs/fuzzing.md has the runs.
//
// The DST report (dstreport.go) finds transitions with the same spans, lists the expression's
// wall-clock times in each skipped or repeated stretch, and asks Next for the fires, so it says
// what the trigger will do: "30 2 * * *" in Berlin is SHIFTED to 03:00 CEST on 2027-03-28 and
// fires ONCE on 2027-10-31; the policy is named with why ("REPEATED_HOUR_POLICY_ONCE (default:
// the hour field is fixed)"). A transition whose stretch holds no time of the expression is left
// out.
//
// Go's ZoneBounds misreports the span containing the last day of a leap year beyond the tzdata
// table (2040-12-31 in Berlin); spanAt repairs such spans (tested for 2040 and 2044).
//
// # Misfires
//
// PlanMisfires(trigger, {LastFire, Now, CatchUpWindow, Policy}) splits every scheduled time in
// (LastFire, Now] into fires to run now and fires to record as MISSED:
//
//   - FIRE_ALL: every time at or after Now-CatchUpWindow runs; older ones are missed.
//   - FIRE_ONCE (policy.DefaultMisfire): only the latest time runs, if it is inside the window.
//   - SKIP: nothing runs.
//
// It never floods: at most MaxFires (1000) run, the latest ones (FiresCapped says so); at most
// MaxMissed (1000) are listed, the oldest ones (MissedTruncated says so). Its work is bounded by
// the caps, not by the length of the outage: the latest fires are found by looking back from Now
// over a doubling span. The scheduler goes on with NextFireTime(Now), so nothing is fired twice.
// Example: every minute, down from 12:00 to 12:05:30, window 10m: FIRE_ALL runs 12:01-12:05,
// FIRE_ONCE runs 12:05 and records 12:01-12:04, SKIP records all five.
//
// # Why our own JobQueue
//
// go-quartz's default queue copies and scans every job on each Push and Remove (O(n)), so loading
// n jobs is O(n^2): 20,000 cron jobs took 4.4 s, 50,000 took 1m42s. JobQueue is a binary heap by
// next run time (ties in push order) with a map from job key to heap position: Push, Pop, Remove
// are O(log n), Get and Head O(1); ScheduledJobs sorts its result by run time. It keeps go-quartz's
// contract: errors wrap ErrIllegalState and ErrQueueEmpty / ErrJobNotFound / ErrJobAlreadyExists,
// a duplicate key is refused unless the job's options say Replace. A job that is a CompactJob is
// kept as itself and its run time, and its go-quartz JobDetail and ScheduledJob are built again
// when go-quartz asks for them: at a million jobs the go-quartz objects cost some 200 MB.
// Benchmarks (bench_test.go): loading 5,000 jobs through StdScheduler.ScheduleJob is 50-70x faster than with the default
// queue, a pop+push cycle at 5,000 jobs some 200x; 100,000 jobs load in well under 0.1 s.
package cron
