package cron

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
	"github.com/reugn/go-quartz/quartz"

	"github.com/workflow-runtime/workflow-runtime/internal/policy"
)

func TestNewTriggerRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  TriggerConfig
	}{
		{"no workflow id", TriggerConfig{Expression: "@daily"}},
		{"negative window", TriggerConfig{WorkflowID: "wf", Expression: "@daily", JitterWindowSeconds: new(int32(-1))}},
		{"bad repeated policy", TriggerConfig{WorkflowID: "wf", Expression: "@daily", RepeatedHour: 7}},
		{"bad skipped policy", TriggerConfig{WorkflowID: "wf", Expression: "@daily", SkippedHour: 255}},
		{"bad zone", TriggerConfig{WorkflowID: "wf", Expression: "@daily", TimeZone: "Mars/Base"}},
		{"bad expression", TriggerConfig{WorkflowID: "wf", Expression: "* * *"}},
		{"bad field", TriggerConfig{WorkflowID: "wf", Expression: "61 * * * *"}},
		{"past year", TriggerConfig{WorkflowID: "wf", Expression: "0 0 12 * * ? 1999"}},
		{"beyond unix nanoseconds", TriggerConfig{WorkflowID: "wf", Expression: "0 0 12 1 1 ? 2300"}},
		{"february 30th", TriggerConfig{WorkflowID: "wf", Expression: "0 0 12 30 2 ?"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewTrigger(tt.cfg)
			is.New(t).True(err != nil) // rejected
		})
	}
}

func TestTriggerFormsAndZones(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr, zone, from string
		want             []string
	}{
		{"*/5 * * * *", "", "2026-06-01T10:02:00Z", []string{"2026-06-01T10:05:00Z", "2026-06-01T10:10:00Z"}},
		{"0 3 * * 1-5", "Europe/Berlin", "2026-06-05T12:00:00Z", []string{"2026-06-08T01:00:00Z", "2026-06-09T01:00:00Z"}}, // Fri -> Mon
		{"*/10 * * * * ?", "", "2026-06-01T10:00:05Z", []string{"2026-06-01T10:00:10Z", "2026-06-01T10:00:20Z"}},
		{"0 15 10 * * ? 2030", "Asia/Tokyo", "2026-06-01T00:00:00Z", []string{"2030-01-01T01:15:00Z", "2030-01-02T01:15:00Z"}},
		{"@hourly", "Asia/Kolkata", "2026-06-01T10:00:00Z", []string{"2026-06-01T10:30:00Z", "2026-06-01T11:30:00Z"}},
		{"@daily", "America/New_York", "2026-06-01T10:00:00Z", []string{"2026-06-02T04:00:00Z", "2026-06-03T04:00:00Z"}},
		{"@weekly", "", "2026-06-01T10:00:00Z", []string{"2026-06-07T00:00:00Z", "2026-06-14T00:00:00Z"}},
		{"@monthly", "", "2026-06-01T10:00:00Z", []string{"2026-07-01T00:00:00Z", "2026-08-01T00:00:00Z"}},
		{"@yearly", "", "2026-06-01T10:00:00Z", []string{"2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"}},
		{"0 0 12 31 4,5 ?", "", "2026-01-01T00:00:00Z", []string{"2026-05-31T12:00:00Z", "2027-05-31T12:00:00Z"}}, // no April 31st
	}
	for _, tt := range tests {
		t.Run(tt.expr+" "+tt.zone, func(t *testing.T) {
			t.Parallel()
			trig := newTestTrigger(t, TriggerConfig{Expression: tt.expr, TimeZone: tt.zone})
			is.New(t).Equal(nextN(t, trig, utc(t, tt.from), len(tt.want)), tt.want)
		})
	}
}

func TestTriggerJitter(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	// "daily-report" hashes to 299 s of a 300 s window.
	trig := newTestTrigger(t, TriggerConfig{
		WorkflowID: "daily-report", Expression: "*/5 * * * *", JitterWindowSeconds: new(int32(300)),
	})
	is.Equal(trig.Offset(), 299*time.Second)
	is.Equal(trig.JitterWindowSeconds(), 300)

	f, err := trig.Next(utc(t, "2026-06-01T10:00:00Z"))
	is.NoErr(err)
	is.Equal(f.Nominal.UTC(), utc(t, "2026-06-01T10:00:00Z"))   // 09:55 + 4m59s is already past
	is.Equal(f.Scheduled.UTC(), utc(t, "2026-06-01T10:04:59Z")) // nominal + offset
	is.Equal(nextN(t, trig, utc(t, "2026-06-01T09:59:58Z"), 3),
		[]string{"2026-06-01T09:59:59Z", "2026-06-01T10:04:59Z", "2026-06-01T10:09:59Z"}) // the cron's spacing

	// As a quartz.Trigger: nanoseconds in, nanoseconds out, strictly after prev.
	prev := utc(t, "2026-06-01T10:04:59Z").UnixNano()
	next, err := trig.NextFireTime(prev)
	is.NoErr(err)
	is.Equal(time.Unix(0, next).UTC(), utc(t, "2026-06-01T10:09:59Z"))
	next, err = trig.NextFireTime(prev - 1)
	is.NoErr(err)
	is.Equal(time.Unix(0, next).UTC(), utc(t, "2026-06-01T10:04:59Z")) // a nanosecond before is before
}

func TestTriggerAccessors(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	trig := newTestTrigger(t, TriggerConfig{WorkflowID: "wf-1", Expression: "0 9 * * 1-5", TimeZone: "Europe/Berlin"})
	is.Equal(trig.WorkflowID(), "wf-1")
	is.Equal(trig.Expression(), "0 0 9 ? * MON-FRI")
	is.Equal(trig.Location().String(), "Europe/Berlin")
	is.Equal(trig.Offset(), time.Duration(0))
	is.Equal(trig.RepeatedHour(), policy.RepeatedHourOnce) // fixed hour
	is.Equal(trig.SkippedHour(), policy.SkippedHourShift)  // fixed hour
	is.Equal(trig.Description(), strings.Join([]string{
		"JitteredCronTrigger", "0 0 9 ? * MON-FRI", "Europe/Berlin", "jitter=0s", "repeated=ONCE", "skipped=SHIFT",
	}, quartz.Sep))

	for _, expr := range []string{"* * * * *", "0 1-3 * * *", "0 */2 * * *", "@hourly"} {
		trig := newTestTrigger(t, TriggerConfig{Expression: expr})
		is.Equal(trig.RepeatedHour(), policy.RepeatedHourTwice) // real time
		is.Equal(trig.SkippedHour(), policy.SkippedHourSkip)    // real time
	}
	for _, expr := range []string{"0 1,13 * * *", "@daily"} {
		trig := newTestTrigger(t, TriggerConfig{Expression: expr})
		is.Equal(trig.RepeatedHour(), policy.RepeatedHourOnce) // fixed hours
	}
}

func TestTriggerExpires(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	trig := newTestTrigger(t, TriggerConfig{Expression: "0 0 12 1 1 ? 2030", TimeZone: "Europe/Berlin"})
	f, err := trig.Next(utc(t, "2026-01-01T00:00:00Z"))
	is.NoErr(err)
	is.Equal(f.Scheduled.UTC(), utc(t, "2030-01-01T11:00:00Z"))
	_, err = trig.Next(f.Scheduled)
	is.True(errors.Is(err, quartz.ErrTriggerExpired)) // no fire after the last year
	_, err = trig.NextFireTime(f.Scheduled.UnixNano())
	is.True(errors.Is(err, quartz.ErrTriggerExpired)) // same through the quartz interface

	// 2262 still fits in Unix nanoseconds.
	late := newTestTrigger(t, TriggerConfig{Expression: "0 0 12 1 1 ? 2262"})
	next, err := late.NextFireTime(utc(t, "2026-01-01T00:00:00Z").UnixNano())
	is.NoErr(err)
	is.Equal(time.Unix(0, next).UTC(), utc(t, "2262-01-01T12:00:00Z"))
}

func TestFieldMask(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	is.Equal(fieldMask("*", 1, 31, nil), uint64(0))
	is.Equal(fieldMask("L", 1, 31, nil), uint64(0))
	is.Equal(fieldMask("15W", 1, 31, nil), uint64(0))
	is.Equal(fieldMask("1,3", 1, 31, nil), uint64(1<<1|1<<3))
	is.Equal(fieldMask("28-30", 1, 31, nil), uint64(1<<28|1<<29|1<<30))
	is.Equal(fieldMask("*/10", 1, 31, nil), uint64(1<<1|1<<11|1<<21|1<<31))
	is.Equal(fieldMask("25/3", 1, 31, nil), uint64(1<<25|1<<28|1<<31))
	is.Equal(fieldMask("1-10/5", 1, 31, nil), uint64(1<<1|1<<6))
	is.Equal(fieldMask("FEB,apr-MAY", 1, 12, monthNames), uint64(1<<2|1<<4|1<<5))
	is.Equal(fieldMask("1/x", 1, 31, nil), uint64(0))
	is.Equal(fieldMask("5-2", 1, 31, nil), uint64(0))
	is.Equal(fieldMask("X-2", 1, 31, nil), uint64(0))
}
