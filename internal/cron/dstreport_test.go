package cron

import (
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/policy"
)

// offsetChanges finds the instants in [from, until) where loc's UTC offset changes, without
// the code under test: day by day, then by bisection to the second.
func offsetChanges(t testing.TB, zone string, from, until time.Time) []time.Time {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	offset := func(u time.Time) int { _, o := u.In(loc).Zone(); return o }
	var out []time.Time
	for d := from; d.Before(until); d = d.Add(24 * time.Hour) {
		lo, hi := d, d.Add(24*time.Hour)
		if offset(lo) == offset(hi) {
			continue
		}
		for hi.Sub(lo) > time.Second { // offset(lo) is the old one, offset(hi) the new one
			mid := lo.Add(hi.Sub(lo) / 2).Truncate(time.Second)
			if offset(mid) == offset(lo) {
				lo = mid
			} else {
				hi = mid
			}
		}
		out = append(out, hi)
	}
	return out
}

var reportFrom = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)

func TestDSTReportFindsEveryTransition(t *testing.T) {
	t.Parallel()
	for _, zone := range []string{"Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Santiago", "UTC"} {
		t.Run(zone, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			trig := newTestTrigger(t, TriggerConfig{Expression: "* * * * *", TimeZone: zone}) // touches every transition
			r, err := trig.DSTReport(reportFrom, 24)
			is.NoErr(err)
			want := offsetChanges(t, zone, reportFrom, reportFrom.AddDate(2, 0, 0))
			is.Equal(len(r.Transitions), len(want)) // one per offset change
			for i, tr := range r.Transitions {
				is.True(tr.At.Equal(want[i])) // at the instant the offset changes
			}
			if zone == "UTC" {
				is.Equal(len(want), 0) // UTC has none
			} else {
				is.Equal(len(want), 4) // two a year
			}
		})
	}
}

// fires renders fires as "nominal>scheduled" in UTC.
func fires(fs []Fire) []string {
	out := make([]string, 0, len(fs))
	for _, f := range fs {
		out = append(out, f.Nominal.UTC().Format(time.RFC3339)+">"+f.Scheduled.UTC().Format(time.RFC3339))
	}
	return out
}

// jittered is the fire of a nominal UTC time with the offset added.
func jittered(t testing.TB, nominal string, offset time.Duration) string {
	return nominal + ">" + utc(t, nominal).Add(offset).Format(time.RFC3339)
}

func TestDSTReport(t *testing.T) {
	t.Parallel()
	const fixed = " (default: the hour field is fixed)"
	const wild = " (default: the hour field is a wildcard, range or step)"
	type transition struct {
		at, span string
		times    []string
		effect   DSTEffect
		policy   string
		fires    []string // nominal times, UTC; the jitter is added by the test
	}
	tests := []struct {
		name     string
		zone     string
		expr     string
		repeated policy.RepeatedHour
		skipped  policy.SkippedHour
		want     []transition
	}{
		{
			name: "Berlin fixed hour: shifted, once", zone: "Europe/Berlin", expr: "30 2 * * *",
			want: []transition{
				{"2027-03-28T01:00:00Z", "2027-03-28T02:00/03:00", []string{"02:30"}, DSTShifted, "SKIPPED_HOUR_POLICY_SHIFT" + fixed, []string{"2027-03-28T01:00:00Z"}},
				{"2027-10-31T01:00:00Z", "2027-10-31T02:00/03:00", []string{"02:30"}, DSTOnce, "REPEATED_HOUR_POLICY_ONCE" + fixed, []string{"2027-10-31T00:30:00Z"}},
			},
		},
		{
			name: "Berlin fixed hour, overrides: skipped, doubled", zone: "Europe/Berlin", expr: "30 2 * * *",
			repeated: policy.RepeatedHourTwice, skipped: policy.SkippedHourSkip,
			want: []transition{
				{"2027-03-28T01:00:00Z", "2027-03-28T02:00/03:00", []string{"02:30"}, DSTSkipped, "SKIPPED_HOUR_POLICY_SKIP (set on the trigger)", nil},
				{"2027-10-31T01:00:00Z", "2027-10-31T02:00/03:00", []string{"02:30"}, DSTDoubled, "REPEATED_HOUR_POLICY_TWICE (set on the trigger)",
					[]string{"2027-10-31T00:30:00Z", "2027-10-31T01:30:00Z"}},
			},
		},
		{
			name: "Berlin wildcard hour: skipped, doubled", zone: "Europe/Berlin", expr: "*/20 * * * *",
			want: []transition{
				{"2027-03-28T01:00:00Z", "2027-03-28T02:00/03:00", []string{"02:00", "02:20", "02:40"}, DSTSkipped, "SKIPPED_HOUR_POLICY_SKIP" + wild, nil},
				{"2027-10-31T01:00:00Z", "2027-10-31T02:00/03:00", []string{"02:00", "02:20", "02:40"}, DSTDoubled, "REPEATED_HOUR_POLICY_TWICE" + wild, []string{
					"2027-10-31T00:00:00Z", "2027-10-31T00:20:00Z", "2027-10-31T00:40:00Z", // CEST
					"2027-10-31T01:00:00Z", "2027-10-31T01:20:00Z", "2027-10-31T01:40:00Z", // CET
				}},
			},
		},
		{
			name: "Berlin two shifted times and a regular one make one fire", zone: "Europe/Berlin", expr: "0,30 2,3 * * *",
			want: []transition{
				{"2027-03-28T01:00:00Z", "2027-03-28T02:00/03:00", []string{"02:00", "02:30"}, DSTShifted, "SKIPPED_HOUR_POLICY_SHIFT" + fixed, []string{"2027-03-28T01:00:00Z"}},
				{"2027-10-31T01:00:00Z", "2027-10-31T02:00/03:00", []string{"02:00", "02:30"}, DSTOnce, "REPEATED_HOUR_POLICY_ONCE" + fixed,
					[]string{"2027-10-31T00:00:00Z", "2027-10-31T00:30:00Z"}},
			},
		},
		{
			name: "Berlin, the last fires of a year-bounded expression, doubled", zone: "Europe/Berlin", expr: "0 0,30 2 31 10 ? 2027",
			repeated: policy.RepeatedHourTwice,
			want: []transition{
				{"2027-10-31T01:00:00Z", "2027-10-31T02:00/03:00", []string{"02:00", "02:30"}, DSTDoubled, "REPEATED_HOUR_POLICY_TWICE (set on the trigger)", []string{
					"2027-10-31T00:00:00Z", "2027-10-31T00:30:00Z", "2027-10-31T01:00:00Z", "2027-10-31T01:30:00Z",
				}},
			},
		},
		{
			name: "New York: the spring gap holds no time, the fall repeat two", zone: "America/New_York", expr: "0,30 1 * * *",
			want: []transition{
				{"2027-11-07T06:00:00Z", "2027-11-07T01:00/02:00", []string{"01:00", "01:30"}, DSTOnce, "REPEATED_HOUR_POLICY_ONCE" + fixed,
					[]string{"2027-11-07T05:00:00Z", "2027-11-07T05:30:00Z"}},
			},
		},
		{
			name: "New York, wildcard hour", zone: "America/New_York", expr: "15 * * * *",
			want: []transition{
				{"2027-03-14T07:00:00Z", "2027-03-14T02:00/03:00", []string{"02:15"}, DSTSkipped, "SKIPPED_HOUR_POLICY_SKIP" + wild, nil},
				{"2027-11-07T06:00:00Z", "2027-11-07T01:00/02:00", []string{"01:15"}, DSTDoubled, "REPEATED_HOUR_POLICY_TWICE" + wild,
					[]string{"2027-11-07T05:15:00Z", "2027-11-07T06:15:00Z"}},
			},
		},
		{
			name: "Lord Howe: half-hour stretches", zone: "Australia/Lord_Howe", expr: "15,45 * * * *",
			skipped: policy.SkippedHourShift,
			want: []transition{
				// 02:00 LHDT (+11) goes back to 01:30 LHST (+10:30).
				{"2027-04-03T15:00:00Z", "2027-04-04T01:30/02:00", []string{"01:45"}, DSTDoubled, "REPEATED_HOUR_POLICY_TWICE" + wild,
					[]string{"2027-04-03T14:45:00Z", "2027-04-03T15:15:00Z"}},
				// 02:00 LHST goes forward to 02:30 LHDT: 02:15 fires at 02:30.
				{"2027-10-02T15:30:00Z", "2027-10-03T02:00/02:30", []string{"02:15"}, DSTShifted, "SKIPPED_HOUR_POLICY_SHIFT (set on the trigger)",
					[]string{"2027-10-02T15:30:00Z"}},
			},
		},
		{
			name: "Santiago: stretches at midnight", zone: "America/Santiago", expr: "30 23,0 * * *",
			want: []transition{
				{"2027-04-04T03:00:00Z", "2027-04-03T23:00/24:00", []string{"23:30"}, DSTOnce, "REPEATED_HOUR_POLICY_ONCE" + fixed, []string{"2027-04-04T02:30:00Z"}},
				{"2027-09-05T04:00:00Z", "2027-09-05T00:00/01:00", []string{"00:30"}, DSTShifted, "SKIPPED_HOUR_POLICY_SHIFT" + fixed, []string{"2027-09-05T04:00:00Z"}},
			},
		},
		{name: "UTC: none", zone: "UTC", expr: "*/5 * * * *"},
		{name: "Berlin, away from the transitions: none", zone: "Europe/Berlin", expr: "0 9 * * *"},
		{name: "Berlin, Mondays only: none", zone: "Europe/Berlin", expr: "30 2 * * 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			trig := newTestTrigger(t, TriggerConfig{
				WorkflowID: "dst-" + tt.name, JitterWindowSeconds: new(int32(300)),
				Expression: tt.expr, TimeZone: tt.zone, RepeatedHour: tt.repeated, SkippedHour: tt.skipped,
			})
			offset := JitterOffset("dst-"+tt.name, 300)
			r, err := trig.DSTReport(reportFrom, 0) // the default, 12 months
			is.NoErr(err)
			is.Equal(r.Zone, tt.zone)
			is.Equal(len(r.Transitions), len(tt.want)) // transitions touching the expression
			for i, w := range tt.want {
				tr := r.Transitions[i]
				is.Equal(tr.At.UTC().Format(time.RFC3339), w.at)
				is.Equal(tr.Span, w.span)
				is.Equal(tr.Times, w.times)
				is.Equal(tr.Effect, w.effect)
				is.Equal(tr.Policy, w.policy)
				want := make([]string, 0, len(w.fires))
				for _, f := range w.fires {
					want = append(want, jittered(t, f, offset))
				}
				is.Equal(fires(tr.Fires), want) // the fires, jitter included
				is.Equal(tr.Repeated(), w.effect == DSTDoubled || w.effect == DSTOnce)
				_, before := tr.At.Add(-time.Second).Zone()
				_, after := tr.At.Zone()
				is.Equal(tr.OffsetBefore, time.Duration(before)*time.Second)
				is.Equal(tr.OffsetAfter, time.Duration(after)*time.Second)
			}
		})
	}
}

func TestDSTReportMonths(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	trig := newTestTrigger(t, TriggerConfig{Expression: "30 2 * * *", TimeZone: "Europe/Berlin"})
	r, err := trig.DSTReport(reportFrom, 60)
	is.NoErr(err)
	is.Equal(len(r.Transitions), 10) // two a year for five years
	r, err = trig.DSTReport(reportFrom, 3)
	is.NoErr(err)
	is.Equal(len(r.Transitions), 1) // March only
	// A transition at the very instant asked from is not ahead; one a second later is.
	at := utc(t, "2027-03-28T01:00:00Z")
	r, err = trig.DSTReport(at, 1)
	is.NoErr(err)
	is.Equal(len(r.Transitions), 0)
	r, err = trig.DSTReport(at.Add(-time.Second), 1)
	is.NoErr(err)
	is.Equal(len(r.Transitions), 1)
	for _, m := range []int{-1, 61} {
		_, err = trig.DSTReport(reportFrom, m)
		is.True(err != nil) // out of range
	}
}

func TestDSTReportCapsLists(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	trig := newTestTrigger(t, TriggerConfig{Expression: "* * * * * ?", TimeZone: "Europe/Berlin"}) // every second
	r, err := trig.DSTReport(reportFrom, 12)
	is.NoErr(err)
	is.Equal(len(r.Transitions), 2)
	is.Equal(len(r.Transitions[1].Times), maxDSTListed)
	is.Equal(r.Transitions[1].Times[1], "02:00:01") // seconds shown when there are some
	is.Equal(len(r.Transitions[1].Fires), maxDSTListed)
}

func TestDSTWarnings(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	trig := newTestTrigger(t, TriggerConfig{Expression: "0,30 2 * * *", TimeZone: "Europe/Berlin"})
	r, err := trig.DSTReport(reportFrom, 24)
	is.NoErr(err)
	ws := r.Warnings()
	is.Equal(len(ws), 2)
	is.Equal(ws[0].ID, WarnSkippedHour)
	is.Equal(ws[0].Message, "Europe/Berlin skips 2027-03-28T02:00/03:00, which holds 02:00, 02:30 of this expression: "+
		"SKIPPED_HOUR_POLICY_SHIFT (default: the hour field is fixed) fires them once at 03:00 CEST instead; the same on 2028-03-26")
	is.Equal(ws[1].ID, WarnRepeatedHour)
	is.Equal(ws[1].Message, "Europe/Berlin repeats 2027-10-31T02:00/03:00, which holds 02:00, 02:30 of this expression: "+
		"REPEATED_HOUR_POLICY_ONCE (default: the hour field is fixed) fires them once, on the first pass; the same on 2028-10-29")

	for _, tc := range []struct {
		cfg  TriggerConfig
		want []string
	}{
		{TriggerConfig{Expression: "30 2 * * *", TimeZone: "Europe/Berlin", RepeatedHour: policy.RepeatedHourTwice, SkippedHour: policy.SkippedHourSkip},
			[]string{"does not fire it that day", "fires it twice, on both passes"}},
		{TriggerConfig{Expression: "0 9 * * *", TimeZone: "Europe/Berlin"}, nil},
		{TriggerConfig{Expression: "*/5 * * * *"}, nil},
	} {
		r, err := newTestTrigger(t, tc.cfg).DSTReport(reportFrom, 12)
		is.NoErr(err)
		ws := r.Warnings()
		is.Equal(len(ws), len(tc.want))
		for i, w := range ws {
			is.True(strings.HasSuffix(w.Message, tc.want[i])) // what the policy does
		}
	}
}

func TestDSTEffectString(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	is.Equal(DSTDoubled.String(), "DOUBLED")
	is.Equal(DSTOnce.String(), "ONCE")
	is.Equal(DSTShifted.String(), "SHIFTED")
	is.Equal(DSTSkipped.String(), "SKIPPED")
	is.Equal(DSTEffect(9).String(), "DSTEffect(9)")
}

func TestWallClockIn(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	day := utc(t, "2011-12-29T00:00:00Z").Unix()
	is.Equal(wallClockIn(day+3600, day, false), "01:00")
	is.Equal(wallClockIn(day+86400, day, true), "24:00")                  // the midnight ending the day
	is.Equal(wallClockIn(day+86400, day, false), "2011-12-30T00:00")      // a time on the next day
	is.Equal(wallClockIn(day+2*86400, day, true), "2011-12-31T00:00")     // a stretch of more than a day
	is.Equal(wallClockIn(day+86400+5, day, false), "2011-12-30T00:00:05") // with seconds
	is.Equal(wallClock(day+90), "2011-12-29T00:01:30")
}

// TestDSTReportSkippedDay: Samoa skipped 2011-12-30 altogether (-10 to +14).
func TestDSTReportSkippedDay(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	trig := newTestTrigger(t, TriggerConfig{Expression: "0 12 * * *", TimeZone: "Pacific/Apia"})
	r, err := trig.DSTReport(utc(t, "2011-12-01T00:00:00Z"), 1)
	is.NoErr(err)
	is.Equal(len(r.Transitions), 1)
	tr := r.Transitions[0]
	is.Equal(tr.Span, "2011-12-30T00:00/24:00") // the whole day
	is.Equal(tr.Times, []string{"12:00"})
	is.Equal(tr.Effect, DSTShifted)
	is.Equal(fires(tr.Fires), []string{"2011-12-30T10:00:00Z>2011-12-30T10:00:00Z"}) // at 00:00 on the 31st
}
