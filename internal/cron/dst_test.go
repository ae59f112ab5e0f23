package cron

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/matryer/is"
	"github.com/reugn/go-quartz/quartz"

	"github.com/workflow-runtime/workflow-runtime/internal/policy"
)

// utc parses an RFC 3339 instant; expectations are written in UTC so that they do not lean on the
// time zone arithmetic under test.
func utc(t testing.TB, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return ts
}

// newTestTrigger builds a trigger without jitter unless the config says otherwise.
func newTestTrigger(t testing.TB, cfg TriggerConfig) *Trigger {
	t.Helper()
	if cfg.WorkflowID == "" {
		cfg.WorkflowID = "wf-test"
	}
	if cfg.JitterWindowSeconds == nil {
		cfg.JitterWindowSeconds = new(int32(0))
	}
	trig, err := NewTrigger(cfg)
	if err != nil {
		t.Fatalf("new trigger %+v: %v", cfg, err)
	}
	return trig
}

// nextN lists the scheduled times of the next n fires after from, in UTC RFC 3339.
func nextN(t testing.TB, trig *Trigger, from time.Time, n int) []string {
	t.Helper()
	out := make([]string, 0, n)
	for range n {
		f, err := trig.Next(from)
		if err != nil {
			t.Fatalf("next after %s: %v", from, err)
		}
		out = append(out, f.Scheduled.UTC().Format(time.RFC3339))
		from = f.Scheduled
	}
	return out
}

func TestDSTTransitions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		zone     string
		expr     string
		repeated policy.RepeatedHour
		skipped  policy.SkippedHour
		from     string
		want     []string
	}{
		// The cases: go-quartz jumps from 01:50 CEST to 02:00 CET (and from 01:40 EDT
		// to 02:00 EST); a wildcard hour must fire through both passes.
		{
			name: "Berlin fall back, wildcard hour, both passes", zone: "Europe/Berlin", expr: "0 */15 * * * ?",
			from: "2026-10-24T23:50:00Z", // 01:50 CEST
			want: []string{
				"2026-10-25T00:00:00Z", "2026-10-25T00:15:00Z", "2026-10-25T00:30:00Z", "2026-10-25T00:45:00Z", // 02:xx CEST
				"2026-10-25T01:00:00Z", "2026-10-25T01:15:00Z", "2026-10-25T01:30:00Z", "2026-10-25T01:45:00Z", // 02:xx CET
				"2026-10-25T02:00:00Z", // 03:00 CET
			},
		},
		{
			name: "New York fall back, wildcard hour, both passes", zone: "America/New_York", expr: "0 */20 * * * ?",
			from: "2026-11-01T05:40:00Z", // 01:40 EDT
			want: []string{
				"2026-11-01T06:00:00Z", "2026-11-01T06:20:00Z", "2026-11-01T06:40:00Z", // 01:xx EST
				"2026-11-01T07:00:00Z", // 02:00 EST
			},
		},
		{
			name: "New York fall back, wildcard hour, ONCE override", zone: "America/New_York", expr: "0 */20 * * * ?",
			repeated: policy.RepeatedHourOnce,
			from:     "2026-11-01T05:20:00Z", // 01:20 EDT
			want:     []string{"2026-11-01T05:40:00Z", "2026-11-01T07:00:00Z"},
		},
		{
			name: "Berlin fall back, fixed hour, once by default", zone: "Europe/Berlin", expr: "30 2 * * *",
			from: "2026-10-24T12:00:00Z",
			want: []string{"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}, // 02:30 CEST, next day 02:30 CET
		},
		{
			name: "Berlin fall back, fixed hour, TWICE override", zone: "Europe/Berlin", expr: "30 2 * * *",
			repeated: policy.RepeatedHourTwice,
			from:     "2026-10-24T12:00:00Z",
			want:     []string{"2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z", "2026-10-26T01:30:00Z"},
		},
		{
			name: "Berlin spring forward, fixed hour, shifted by default", zone: "Europe/Berlin", expr: "30 2 * * *",
			from: "2026-03-28T12:00:00Z",
			want: []string{"2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"}, // 03:00 CEST, next day 02:30 CEST
		},
		{
			name: "Berlin spring forward, fixed hour, SKIP override", zone: "Europe/Berlin", expr: "30 2 * * *",
			skipped: policy.SkippedHourSkip,
			from:    "2026-03-28T12:00:00Z",
			want:    []string{"2026-03-30T00:30:00Z"},
		},
		{
			name: "Berlin spring forward, wildcard hour, real time", zone: "Europe/Berlin", expr: "0 */15 * * * ?",
			from: "2026-03-29T00:30:00Z", // 01:30 CET
			want: []string{"2026-03-29T00:45:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:15:00Z"},
		},
		{
			name: "Berlin spring forward, fixed hour with minute steps, shifted once", zone: "Europe/Berlin", expr: "*/15 2 * * *",
			from: "2026-03-28T12:00:00Z",
			want: []string{"2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z"},
		},
		{
			name: "New York fall back, fixed hour, once by default", zone: "America/New_York", expr: "30 1 * * *",
			from: "2026-10-31T12:00:00Z",
			want: []string{"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}, // 01:30 EDT, next day 01:30 EST
		},
		{
			name: "New York fall back, fixed hour, TWICE override", zone: "America/New_York", expr: "30 1 * * *",
			repeated: policy.RepeatedHourTwice,
			from:     "2026-10-31T12:00:00Z",
			want:     []string{"2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z", "2026-11-02T06:30:00Z"},
		},
		{
			name: "New York spring forward, fixed hour, shifted by default", zone: "America/New_York", expr: "15 2 * * *",
			from: "2026-03-07T12:00:00Z",
			want: []string{"2026-03-08T07:00:00Z", "2026-03-09T06:15:00Z"}, // 03:00 EDT, next day 02:15 EDT
		},
		{
			name: "New York spring forward, range hour, real time", zone: "America/New_York", expr: "0 1-3 * * *",
			from: "2026-03-08T05:30:00Z", // 00:30 EST
			want: []string{"2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z", "2026-03-09T05:00:00Z"},
		},
		// Australia/Lord_Howe moves its clocks by 30 minutes: 02:00 LHDT -> 01:30 LHST in April,
		// 02:00 LHST -> 02:30 LHDT in October.
		{
			name: "Lord Howe fall back, wildcard hour, both passes", zone: "Australia/Lord_Howe", expr: "*/10 * * * *",
			from: "2026-04-04T14:20:00Z", // 01:20 LHDT
			want: []string{
				"2026-04-04T14:30:00Z", "2026-04-04T14:40:00Z", "2026-04-04T14:50:00Z", // 01:30-01:50 LHDT
				"2026-04-04T15:00:00Z", "2026-04-04T15:10:00Z", "2026-04-04T15:20:00Z", // 01:30-01:50 LHST
				"2026-04-04T15:30:00Z", // 02:00 LHST
			},
		},
		{
			name: "Lord Howe fall back, fixed hour, once by default", zone: "Australia/Lord_Howe", expr: "45 1 * * *",
			from: "2026-04-04T00:00:00Z",
			want: []string{"2026-04-04T14:45:00Z", "2026-04-05T15:15:00Z"},
		},
		{
			name: "Lord Howe fall back, fixed hour, TWICE override", zone: "Australia/Lord_Howe", expr: "45 1 * * *",
			repeated: policy.RepeatedHourTwice,
			from:     "2026-04-04T00:00:00Z",
			want:     []string{"2026-04-04T14:45:00Z", "2026-04-04T15:15:00Z", "2026-04-05T15:15:00Z"},
		},
		{
			name: "Lord Howe spring forward, wildcard hour, skipped by default", zone: "Australia/Lord_Howe", expr: "15 * * * *",
			from: "2026-10-03T14:30:00Z",                                   // 01:00 LHST
			want: []string{"2026-10-03T14:45:00Z", "2026-10-03T16:15:00Z"}, // 01:15 LHST, 03:15 LHDT
		},
		{
			name: "Lord Howe spring forward, wildcard hour, SHIFT override", zone: "Australia/Lord_Howe", expr: "15 * * * *",
			skipped: policy.SkippedHourShift,
			from:    "2026-10-03T14:30:00Z",
			want:    []string{"2026-10-03T14:45:00Z", "2026-10-03T15:30:00Z", "2026-10-03T16:15:00Z"}, // 02:30 LHDT in between
		},
		{
			name: "Lord Howe spring forward, fixed hour, shifted by default", zone: "Australia/Lord_Howe", expr: "15 2 * * *",
			from: "2026-10-03T00:00:00Z",
			want: []string{"2026-10-03T15:30:00Z", "2026-10-04T15:15:00Z"}, // 02:30 LHDT, next day 02:15 LHDT
		},
		{
			name: "UTC has no transitions", zone: "", expr: "@hourly",
			from: "2026-10-25T00:30:00Z",
			want: []string{"2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			trig := newTestTrigger(t, TriggerConfig{
				Expression: tt.expr, TimeZone: tt.zone, RepeatedHour: tt.repeated, SkippedHour: tt.skipped,
			})
			is.Equal(nextN(t, trig, utc(t, tt.from), len(tt.want)), tt.want) // fires across the transition
		})
	}
}

// TestQuartzCronTriggerLosesRepeatedHour pins the go-quartz v0.15.2 behaviour this package works
// around; if it starts failing, go-quartz changed and dst.go may be simplified.
func TestQuartzCronTriggerLosesRepeatedHour(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	berlin, err := time.LoadLocation("Europe/Berlin")
	is.NoErr(err)
	ct, err := quartz.NewCronTriggerWithLoc("0 */15 * * * ?", berlin)
	is.NoErr(err)
	next, err := ct.NextFireTime(utc(t, "2026-10-24T23:50:00Z").UnixNano())
	is.NoErr(err)
	is.Equal(time.Unix(0, next).UTC(), utc(t, "2026-10-25T01:00:00Z")) // 02:00 CET: 02:00-02:45 CEST lost
}

// TestDSTWholeYear walks a year of fires: a wildcard-hour schedule keeps its real-time spacing
// through both transitions, and a fixed-hour daily schedule fires exactly once per local date.
//
// 2040 and 2044 lie beyond the tzdata table, where Go derives transitions from the zone's rule
// and ZoneBounds misreports the last day of a leap year (see spanAt).
func TestDSTWholeYear(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		zone string
		year int
	}{
		{"Europe/Berlin", 2026}, {"America/New_York", 2026}, {"Australia/Lord_Howe", 2026},
		{"Europe/Berlin", 2040}, {"America/New_York", 2044}, {"Australia/Lord_Howe", 2040},
	} {
		zone := tc.zone
		t.Run(fmt.Sprint(zone, tc.year), func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			loc, err := LoadLocation(zone)
			is.NoErr(err)
			from := time.Date(tc.year, 1, 1, 0, 0, 0, 0, loc)
			to := time.Date(tc.year+1, 1, 1, 0, 0, 0, 0, loc)
			days := int(to.Sub(from).Hours()+12) / 24

			every := newTestTrigger(t, TriggerConfig{Expression: "*/15 * * * *", TimeZone: zone})
			b, err := every.Backfill(from, to, 100_000)
			is.Equal(len(b.Fires), int(to.Sub(from)/(15*time.Minute))) // every quarter hour of real time
			is.NoErr(err)
			is.True(!b.Truncated)
			for i := 1; i < len(b.Fires); i++ {
				gap := b.Fires[i].Scheduled.Sub(b.Fires[i-1].Scheduled)
				if gap != 15*time.Minute { // a 30-minute shift keeps quarter hours aligned too
					t.Fatalf("%s: %s after %s, want 15m", zone, gap, b.Fires[i-1].Scheduled)
				}
			}
			is.Equal(b.Fires[0].Scheduled, from) // the year starts with a fire

			for _, expr := range []string{"30 2 * * *", "30 1 * * *", "45 1 * * *", "15 2 * * *"} {
				daily := newTestTrigger(t, TriggerConfig{Expression: expr, TimeZone: zone})
				b, err := daily.Backfill(from, to, 1000)
				is.NoErr(err)
				is.Equal(len(b.Fires), days) // once per day, whatever the clocks did
				dates := map[string]bool{}
				for _, f := range b.Fires {
					dates[f.Scheduled.In(loc).Format(time.DateOnly)] = true
				}
				is.Equal(len(dates), days) // one fire on each local date
			}
		})
	}
}

// TestMatchesQuartzAwayFromTransitions checks the wall-clock matching against go-quartz's own
// CronTrigger where the two must agree: hours no transition touches.
func TestMatchesQuartzAwayFromTransitions(t *testing.T) {
	t.Parallel()
	exprs := []string{
		"0 15 10 ? * MON-FRI", "0 15 10 ? * 6L", "0 15 10 ? * 6#3", "0 15 10 L * ?",
		"0 15 10 L-2 * ?", "0 0 12 15W * ?", "0 0/5 14,18 * * ?", "0 10,44 14 ? 3 WED",
		"*/7 * 12 * * ?", "0 0 9-17 * * ?", "@monthly",
	}
	zones := []string{"", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"}
	for _, expr := range exprs {
		for _, zone := range zones {
			t.Run(expr+" "+zone, func(t *testing.T) {
				t.Parallel()
				is := is.New(t)
				trig := newTestTrigger(t, TriggerConfig{Expression: expr, TimeZone: zone})
				ct, err := ParseCron(expr, trig.Location())
				is.NoErr(err)
				prev := utc(t, "2026-01-01T00:00:00Z").UnixNano()
				for range 40 {
					want, err := ct.NextFireTime(prev)
					is.NoErr(err)
					got, err := trig.NextFireTime(prev)
					is.NoErr(err)
					is.Equal(time.Unix(0, got).UTC(), time.Unix(0, want).UTC()) // same fire as go-quartz
					prev = got
				}
			})
		}
	}
}

// TestLeapDay: in a DST zone go-quartz v0.15.2 lets February 29th of a common year roll over to
// March 1st; the wall-clock matching in UTC does not.
func TestLeapDay(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	trig := newTestTrigger(t, TriggerConfig{Expression: "0 0 12 29 2 ?", TimeZone: "Europe/Berlin"})
	is.Equal(nextN(t, trig, utc(t, "2026-01-01T00:00:00Z"), 3),
		[]string{"2028-02-29T11:00:00Z", "2032-02-29T11:00:00Z", "2036-02-29T11:00:00Z"}) // leap years only

	ct, err := ParseCron("0 0 12 29 2 ?", trig.Location())
	is.NoErr(err)
	next, err := ct.NextFireTime(utc(t, "2028-03-01T00:00:00Z").UnixNano())
	is.NoErr(err)
	is.Equal(time.Unix(0, next).UTC(), utc(t, "2029-03-01T11:00:00Z")) // go-quartz's answer, pinned
}

// TestRepeatedTwiceLastFires: when the repeated times are the last an expression ever has, the
// second pass still fires; the search past the first pass finds nothing in the span that ends
// with the clocks going back, and must go on into the next span.
func TestRepeatedTwiceLastFires(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		repeated policy.RepeatedHour
		want     []string
	}{
		{policy.RepeatedHourTwice, []string{
			"2027-10-31T00:00:00Z", "2027-10-31T00:30:00Z", // 02:00, 02:30 CEST (+02)
			"2027-10-31T01:00:00Z", "2027-10-31T01:30:00Z", // 02:00, 02:30 CET (+01)
		}},
		{policy.RepeatedHourOnce, []string{"2027-10-31T00:00:00Z", "2027-10-31T00:30:00Z"}},
	} {
		t.Run(tt.repeated.String(), func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			trig := newTestTrigger(t, TriggerConfig{Expression: "0 0,30 2 31 10 ? 2027", TimeZone: "Europe/Berlin", RepeatedHour: tt.repeated})
			after := utc(t, "2027-10-30T12:00:00Z")
			var got []string
			for range len(tt.want) + 1 {
				f, err := trig.Next(after)
				if err != nil {
					is.True(errors.Is(err, quartz.ErrTriggerExpired)) // then nothing more
					break
				}
				got = append(got, f.Scheduled.UTC().Format(time.RFC3339))
				after = f.Scheduled
			}
			is.Equal(got, tt.want)
		})
	}
}

// TestShiftedFireRightAfter: asked for the next fire from the last second before a gap, the
// shifted fire at the gap's end comes next (the span search starts in the span after the gap).
func TestShiftedFireRightAfter(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	trig := newTestTrigger(t, TriggerConfig{Expression: "30 2 * * *", TimeZone: "Europe/Berlin"})
	for _, from := range []string{"2027-03-28T00:59:58Z", "2027-03-28T00:59:59Z"} { // 01:59:58, 01:59:59 CET
		is.Equal(nextN(t, trig, utc(t, from), 2), []string{"2027-03-28T01:00:00Z", "2027-03-29T00:30:00Z"}) // 03:00 CEST, then 02:30
	}
	skip := newTestTrigger(t, TriggerConfig{Expression: "30 2 * * *", TimeZone: "Europe/Berlin", SkippedHour: policy.SkippedHourSkip})
	is.Equal(nextN(t, skip, utc(t, "2027-03-28T00:59:59Z"), 1), []string{"2027-03-29T00:30:00Z"}) // SKIP: nothing that day
}
