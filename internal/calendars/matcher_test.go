package calendars_test

import (
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/calendars"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
)

func compile(t *testing.T, c calendars.Calendar) *calendars.Matcher {
	t.Helper()
	c = c.Normalize()
	if c.Name == "" {
		c.Name = "test"
	}
	v := &errdefs.ValidationError{}
	c.Validate(v, "calendar")
	if err := v.OrNil(); err != nil {
		t.Fatal(err)
	}
	m, err := calendars.Compile(&c)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func at(t *testing.T, zone, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// 2026-03-02 is a Monday.
func TestCovers(t *testing.T) {
	t.Parallel()
	mon := []time.Weekday{time.Monday}
	for _, tc := range []struct {
		name string
		cal  calendars.Calendar
		at   string // in the calendar's zone
		want bool
	}{
		{"holiday start", calendars.Calendar{Holidays: []string{"2026-12-25"}}, "2026-12-25 00:00", true},
		{"holiday end", calendars.Calendar{Holidays: []string{"2026-12-25"}}, "2026-12-25 23:59", true},
		{"day after holiday", calendars.Calendar{Holidays: []string{"2026-12-25"}}, "2026-12-26 00:00", false},
		{"range inside", calendars.Calendar{DateRanges: []calendars.DateRange{{"2026-12-24", "2026-12-31"}}}, "2026-12-31 12:00", true},
		{"range before", calendars.Calendar{DateRanges: []calendars.DateRange{{"2026-12-24", "2026-12-31"}}}, "2026-12-23 23:59", false},
		{"window start included", calendars.Calendar{WeeklyWindows: []calendars.WeeklyWindow{{mon, "09:00", "10:00"}}}, "2026-03-02 09:00", true},
		{"window end excluded", calendars.Calendar{WeeklyWindows: []calendars.WeeklyWindow{{mon, "09:00", "10:00"}}}, "2026-03-02 10:00", false},
		{"window other day", calendars.Calendar{WeeklyWindows: []calendars.WeeklyWindow{{mon, "09:00", "10:00"}}}, "2026-03-03 09:30", false},
		{"past midnight, evening", calendars.Calendar{WeeklyWindows: []calendars.WeeklyWindow{{mon, "22:00", "06:00"}}}, "2026-03-02 23:00", true},
		{"past midnight, next morning", calendars.Calendar{WeeklyWindows: []calendars.WeeklyWindow{{mon, "22:00", "06:00"}}}, "2026-03-03 05:59", true},
		{"past midnight, next morning end", calendars.Calendar{WeeklyWindows: []calendars.WeeklyWindow{{mon, "22:00", "06:00"}}}, "2026-03-03 06:00", false},
		{"past midnight, morning of start day", calendars.Calendar{WeeklyWindows: []calendars.WeeklyWindow{{mon, "22:00", "06:00"}}}, "2026-03-02 05:00", false},
		{"to 24:00", calendars.Calendar{WeeklyWindows: []calendars.WeeklyWindow{{mon, "18:00", "24:00"}}}, "2026-03-02 23:59", true},
		{"to 24:00, next day", calendars.Calendar{WeeklyWindows: []calendars.WeeklyWindow{{mon, "18:00", "24:00"}}}, "2026-03-03 00:00", false},
		{"whole day", calendars.Calendar{WeeklyWindows: []calendars.WeeklyWindow{{mon, "00:00", "24:00"}}}, "2026-03-02 00:00", true},
		{"start equals end: 24 hours", calendars.Calendar{WeeklyWindows: []calendars.WeeklyWindow{{mon, "12:00", "12:00"}}}, "2026-03-03 11:59", true},
		{"zone read", calendars.Calendar{Timezone: "Asia/Tokyo", Holidays: []string{"2026-01-01"}}, "2026-01-01 08:00", true},
		// Europe/Berlin springs forward on 2026-03-29 (a Sunday) at 02:00 to 03:00.
		{"spring forward, skipped window covers nothing", calendars.Calendar{Timezone: "Europe/Berlin",
			WeeklyWindows: []calendars.WeeklyWindow{{[]time.Weekday{time.Sunday}, "02:00", "03:00"}}}, "2026-03-29 03:00", false},
		{"spring forward, window around the gap", calendars.Calendar{Timezone: "Europe/Berlin",
			WeeklyWindows: []calendars.WeeklyWindow{{[]time.Weekday{time.Sunday}, "01:30", "03:30"}}}, "2026-03-29 03:15", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := compile(t, tc.cal)
			zone := tc.cal.Normalize().Timezone
			if got := m.Covers(at(t, zone, tc.at)); got != tc.want {
				t.Fatalf("Covers(%s) = %v, want %v", tc.at, got, tc.want)
			}
		})
	}
}

// Europe/Berlin falls back on 2026-10-25 (a Sunday): 03:00 CEST becomes 02:00 CET. A window
// inside the repeated hour covers both passes, each ending at its own pass's end.
func TestRepeatedHourCoversBothPasses(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	m := compile(t, calendars.Calendar{Timezone: "Europe/Berlin",
		WeeklyWindows: []calendars.WeeklyWindow{{[]time.Weekday{time.Sunday}, "02:00", "02:30"}}})
	first := time.Date(2026, 10, 25, 0, 10, 0, 0, time.UTC)  // 02:10 CEST
	second := time.Date(2026, 10, 25, 1, 10, 0, 0, time.UTC) // 02:10 CET
	is.True(m.Covers(first))
	is.True(m.Covers(second))
	is.True(!m.Covers(time.Date(2026, 10, 25, 0, 40, 0, 0, time.UTC))) // 02:40 CEST
	set := calendars.Set{m}
	is.Equal(set.WindowEnd(first), time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC))  // 02:30 CEST
	is.Equal(set.WindowEnd(second), time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC)) // 02:30 CET
}

func TestWindowEnd(t *testing.T) {
	t.Parallel()
	mon, tue := []time.Weekday{time.Monday}, []time.Weekday{time.Tuesday}
	berlin := func(s string) time.Time { return at(t, "Europe/Berlin", s) }
	utc := func(s string) time.Time { return at(t, "UTC", s) }
	for _, tc := range []struct {
		name string
		cals []calendars.Calendar
		at   time.Time
		want time.Time
	}{
		{"not covered: t itself", []calendars.Calendar{{Holidays: []string{"2026-12-25"}}}, utc("2026-12-24 10:00"), utc("2026-12-24 10:00")},
		{"holiday", []calendars.Calendar{{Holidays: []string{"2026-12-25"}}}, utc("2026-12-25 10:00"), utc("2026-12-26 00:00")},
		{"adjacent holidays merge", []calendars.Calendar{{Holidays: []string{"2026-12-25", "2026-12-26"}}}, utc("2026-12-25 10:00"), utc("2026-12-27 00:00")},
		{"range", []calendars.Calendar{{DateRanges: []calendars.DateRange{{"2026-12-24", "2026-12-31"}}}}, utc("2026-12-24 00:00"), utc("2027-01-01 00:00")},
		{"window", []calendars.Calendar{{WeeklyWindows: []calendars.WeeklyWindow{{mon, "09:00", "10:00"}}}}, utc("2026-03-02 09:30"), utc("2026-03-02 10:00")},
		{"past midnight", []calendars.Calendar{{WeeklyWindows: []calendars.WeeklyWindow{{mon, "22:00", "06:00"}}}}, utc("2026-03-02 23:00"), utc("2026-03-03 06:00")},
		{"24:00 then the next day's window", []calendars.Calendar{{WeeklyWindows: []calendars.WeeklyWindow{{mon, "18:00", "24:00"}, {tue, "00:00", "02:00"}}}},
			utc("2026-03-02 19:00"), utc("2026-03-03 02:00")},
		{"overlapping windows of two calendars", []calendars.Calendar{
			{Name: "a", WeeklyWindows: []calendars.WeeklyWindow{{mon, "09:00", "11:00"}}},
			{Name: "b", WeeklyWindows: []calendars.WeeklyWindow{{mon, "10:30", "12:00"}}},
		}, utc("2026-03-02 09:15"), utc("2026-03-02 12:00")},
		{"overlapping windows of one calendar", []calendars.Calendar{{WeeklyWindows: []calendars.WeeklyWindow{{mon, "09:00", "11:00"}, {mon, "08:00", "09:30"}}}},
			utc("2026-03-02 08:15"), utc("2026-03-02 11:00")},
		{"gap between windows: no merge", []calendars.Calendar{{WeeklyWindows: []calendars.WeeklyWindow{{mon, "09:00", "10:00"}, {mon, "10:01", "11:00"}}}},
			utc("2026-03-02 09:15"), utc("2026-03-02 10:00")},
		{"window in another zone", []calendars.Calendar{{Timezone: "America/New_York", WeeklyWindows: []calendars.WeeklyWindow{{mon, "09:00", "10:00"}}}},
			at(t, "America/New_York", "2026-03-02 09:30"), utc("2026-03-02 15:00")},
		// Europe/Berlin springs forward on 2026-03-29 at 02:00 CET to 03:00 CEST.
		{"end inside the spring-forward gap: the jump", []calendars.Calendar{{Timezone: "Europe/Berlin",
			WeeklyWindows: []calendars.WeeklyWindow{{[]time.Weekday{time.Sunday}, "01:00", "02:30"}}}},
			berlin("2026-03-29 01:30"), time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC)},
		{"end after the gap", []calendars.Calendar{{Timezone: "Europe/Berlin",
			WeeklyWindows: []calendars.WeeklyWindow{{[]time.Weekday{time.Sunday}, "01:00", "04:00"}}}},
			berlin("2026-03-29 01:30"), time.Date(2026, 3, 29, 2, 0, 0, 0, time.UTC)},
		{"holiday on the spring-forward day is 23 hours", []calendars.Calendar{{Timezone: "Europe/Berlin", Holidays: []string{"2026-03-29"}}},
			berlin("2026-03-29 00:00"), time.Date(2026, 3, 29, 22, 0, 0, 0, time.UTC)},
		{"every day: no end", []calendars.Calendar{{WeeklyWindows: []calendars.WeeklyWindow{{[]time.Weekday{0, 1, 2, 3, 4, 5, 6}, "00:00", "24:00"}}}},
			utc("2026-03-02 09:30"), time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var set calendars.Set
			for i, c := range tc.cals {
				if c.Name == "" {
					c.Name = "cal-" + strings.Repeat("x", i+1)
				}
				set = append(set, compile(t, c))
			}
			if got := set.WindowEnd(tc.at); !got.Equal(tc.want) {
				t.Fatalf("WindowEnd(%s) = %s, want %s", tc.at, got, tc.want)
			}
		})
	}
}

func TestCovering(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	a := compile(t, calendars.Calendar{Name: "a", Holidays: []string{"2026-12-25"}})
	b := compile(t, calendars.Calendar{Name: "b", DateRanges: []calendars.DateRange{{"2026-12-24", "2026-12-26"}}})
	set := calendars.Set{a, b}
	is.Equal(set.Covering(at(t, "UTC", "2026-12-25 10:00")), "a") // the first named wins
	is.Equal(set.Covering(at(t, "UTC", "2026-12-24 10:00")), "b")
	is.Equal(set.Covering(at(t, "UTC", "2026-12-27 10:00")), "")
	is.Equal(a.Name(), "a")
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		cal         calendars.Calendar
		field, rule string
	}{
		{"name", calendars.Calendar{Name: "Bad Name"}, "calendar.name", "string.pattern"},
		{"zone", calendars.Calendar{Name: "c", Timezone: "Mars/Olympus"}, "calendar.timezone", "timezone.iana"},
		{"not a real date", calendars.Calendar{Name: "c", Holidays: []string{"2026-02-30"}}, "calendar.holidays[0]", "date.real"},
		{"holiday twice", calendars.Calendar{Name: "c", Holidays: []string{"2026-02-03", "2026-02-03"}}, "calendar.holidays[1]", "repeated.unique"},
		{"range start", calendars.Calendar{Name: "c", DateRanges: []calendars.DateRange{{"2026-13-01", "2026-12-01"}}}, "calendar.date_ranges[0].start_date", "date.real"},
		{"range end", calendars.Calendar{Name: "c", DateRanges: []calendars.DateRange{{"2026-12-01", "2026-11-31"}}}, "calendar.date_ranges[0].end_date", "date.real"},
		{"range order", calendars.Calendar{Name: "c", DateRanges: []calendars.DateRange{{"2026-12-02", "2026-12-01"}}}, "calendar.date_ranges[0]", "date_range.ordered"},
		{"no days", calendars.Calendar{Name: "c", WeeklyWindows: []calendars.WeeklyWindow{{nil, "01:00", "02:00"}}}, "calendar.weekly_windows[0].days", "repeated.min_items"},
		{"day twice", calendars.Calendar{Name: "c", WeeklyWindows: []calendars.WeeklyWindow{{[]time.Weekday{1, 1}, "01:00", "02:00"}}}, "calendar.weekly_windows[0].days[1]", "repeated.unique"},
		{"unknown day", calendars.Calendar{Name: "c", WeeklyWindows: []calendars.WeeklyWindow{{[]time.Weekday{9}, "01:00", "02:00"}}}, "calendar.weekly_windows[0].days[0]", "enum.defined_only"},
		{"start 24:00", calendars.Calendar{Name: "c", WeeklyWindows: []calendars.WeeklyWindow{{[]time.Weekday{1}, "24:00", "02:00"}}}, "calendar.weekly_windows[0].start_time", "window.time"},
		{"end 25:00", calendars.Calendar{Name: "c", WeeklyWindows: []calendars.WeeklyWindow{{[]time.Weekday{1}, "01:00", "25:00"}}}, "calendar.weekly_windows[0].end_time", "window.time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			v := &errdefs.ValidationError{}
			c := tc.cal.Normalize()
			c.Validate(v, "calendar")
			is.Equal(len(v.Violations), 1) // one violation
			is.Equal(v.Violations[0].Field, tc.field)
			is.Equal(v.Violations[0].Rule, tc.rule)
			_, err := calendars.Compile(&c)
			if tc.rule == "date.real" || tc.rule == "window.time" || tc.rule == "enum.defined_only" || tc.rule == "timezone.iana" {
				is.True(err != nil) // Compile refuses what it cannot read
			}
		})
	}
}
