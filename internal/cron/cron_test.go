package cron

import (
	"testing"
	"time"

	"github.com/matryer/is"
)

func TestNormalizeCron(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
	}{
		{"*/5 * * * *", "0 */5 * * * ?"},
		{"0 3 * * 1-5", "0 0 3 ? * MON-FRI"},
		{"0 3 * * 0,6", "0 0 3 ? * SUN,SAT"},
		{"0 3 * * 7", "0 0 3 ? * SUN"},
		{"0 3 * * */2", "0 0 3 ? * */2"},
		{"0 9 * * 5L", "0 0 9 ? * FRIL"},
		{"0 9 * * 5#3", "0 0 9 ? * FRI#3"},
		{"0 9 * * 5-7", "0 0 9 ? * FRI,SAT,SUN"},
		{"0 9 * * 1/2", "0 0 9 ? * MON/2"},
		{"0 3 1 * *", "0 0 3 1 * ?"},
		{"30  2   *  * *", "0 30 2 * * ?"},
		{"0 15 10 ? * MON-FRI", "0 15 10 ? * MON-FRI"},
		{"0 15 10 * * ? 2030", "0 15 10 * * ? 2030"},
		{"@hourly", "0 0 * * * ?"},
		{"@DAILY", "0 0 0 * * ?"},
		{"@weekly", "0 0 0 ? * SUN"},
		{"@monthly", "0 0 0 1 * ?"},
		{"@yearly", "0 0 0 1 1 ?"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			got, err := NormalizeCron(tt.in)
			is.NoErr(err)
			is.Equal(got, tt.want)
		})
	}
}

func TestNormalizeCronRejects(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "* * *", "@every 5m", "0 3 1 * 1", "1 2 3 4 5 6 7 8"} {
		t.Run(in, func(t *testing.T) {
			t.Parallel()
			_, err := NormalizeCron(in)
			is.New(t).True(err != nil) // rejected
		})
	}
}

func TestParseCron(t *testing.T) {
	t.Parallel()
	berlin, err := LoadLocation("Europe/Berlin")
	is.New(t).NoErr(err)
	tests := []struct {
		name    string
		expr    string
		wantErr bool
	}{
		{"five fields", "*/5 * * * *", false},
		{"six fields", "*/10 * * * * ?", false},
		{"seven fields", "0 0 12 * * ? 2099", false},
		{"macro", "@daily", false},
		{"minute out of range", "61 * * * *", true},
		{"garbage", "every day at noon", true},
		{"year in the past never fires", "0 0 12 * * ? 1999", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			_, err := ParseCron(tt.expr, berlin)
			is.Equal(err != nil, tt.wantErr) // error as expected
		})
	}
}

// A refused expression is named as given, with the field that is wrong; never in the Quartz form
// it was rewritten to ("0 0 25 * * ?", "MON#6").
func TestParseCronErrorNamesTheExpressionAsGiven(t *testing.T) {
	t.Parallel()
	const fields = "; any field also takes *, lists (a,b), ranges (a-b) and steps (/n)"
	for _, tt := range []struct{ expr, want string }{
		{"0 25 * * *", `"0 25 * * *": hour "25" is not valid: want 0-23` + fields},
		{"0 9 * * 1#6", `"0 9 * * 1#6": day-of-week "1#6" is not valid: want 0-7 or SUN-SAT (0 and 7 are Sunday), nL or n#k` + fields},
		{"0 9 32 * *", `"0 9 32 * *": day-of-month "32" is not valid: want 1-31, L, LW, nW or ?` + fields},
		{"0  0 25 * * ?", `"0  0 25 * * ?": hour "25" is not valid: want 0-23` + fields},
		{"0 0 0 1 * MON", `"0 0 0 1 * MON": parse cron expression: day field set twice`},
	} {
		t.Run(tt.expr, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			_, err := ParseCron(tt.expr, time.UTC)
			is.True(err != nil)
			is.Equal(err.Error(), tt.want)
			_, err = NewTrigger(TriggerConfig{WorkflowID: "wf", Expression: tt.expr})
			is.True(err != nil)
			is.Equal(err.Error(), "new trigger: "+tt.want) // the trigger says the same
		})
	}
}

func TestParseCronFiresInLocation(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ny, err := LoadLocation("America/New_York")
	is.NoErr(err)
	trig, err := ParseCron("0 9 * * *", ny)
	is.NoErr(err)
	from := time.Date(2026, 6, 1, 0, 0, 0, 0, ny)
	next, err := trig.NextFireTime(from.UnixNano())
	is.NoErr(err)
	is.Equal(time.Unix(0, next).In(ny), time.Date(2026, 6, 1, 9, 0, 0, 0, ny)) // 09:00 New York time
}

func TestLoadLocation(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	loc, err := LoadLocation("")
	is.NoErr(err)
	is.Equal(loc, time.UTC) // empty is UTC
	_, err = LoadLocation("Mars/Olympus_Mons")
	is.True(err != nil) // unknown zone
	_, err = LoadLocation("Local")
	is.True(err != nil) // machine-dependent zone refused
	loc, err = LoadLocation("Australia/Lord_Howe")
	is.NoErr(err)
	is.Equal(loc.String(), "Australia/Lord_Howe")
}

// TestFiveFieldDayOfWeek checks every day-of-week form of standard cron against its classic
// meaning: the dates "0 9 * * <dow>" fires on over four months are compared with the dates a
// predicate on the calendar picks, day by day.
func TestFiveFieldDayOfWeek(t *testing.T) {
	t.Parallel()
	days := func(ws ...time.Weekday) func(time.Time) bool {
		return func(d time.Time) bool {
			for _, w := range ws {
				if d.Weekday() == w {
					return true
				}
			}
			return false
		}
	}
	every := func(time.Time) bool { return true }
	last := func(w time.Weekday) func(time.Time) bool {
		return func(d time.Time) bool { return d.Weekday() == w && d.AddDate(0, 0, 7).Month() != d.Month() }
	}
	nth := func(w time.Weekday, k int) func(time.Time) bool {
		return func(d time.Time) bool { return d.Weekday() == w && (d.Day()-1)/7 == k-1 }
	}
	const (
		sun, mon, tue, wed = time.Sunday, time.Monday, time.Tuesday, time.Wednesday
		thu, fri, sat      = time.Thursday, time.Friday, time.Saturday
	)
	tests := []struct {
		dow  string
		want func(time.Time) bool
	}{
		{"0", days(sun)}, {"1", days(mon)}, {"2", days(tue)}, {"3", days(wed)},
		{"4", days(thu)}, {"5", days(fri)}, {"6", days(sat)}, {"7", days(sun)},
		{"SUN", days(sun)}, {"MON", days(mon)}, {"TUE", days(tue)}, {"WED", days(wed)},
		{"THU", days(thu)}, {"FRI", days(fri)}, {"SAT", days(sat)}, {"mon", days(mon)},
		{"1,3,5", days(mon, wed, fri)}, {"0,6", days(sun, sat)}, {"7,1", days(sun, mon)},
		{"MON,FRI", days(mon, fri)}, {"1-2,5", days(mon, tue, fri)},
		{"1-5", days(mon, tue, wed, thu, fri)}, {"MON-FRI", days(mon, tue, wed, thu, fri)},
		{"5-7", days(fri, sat, sun)}, {"6-7", days(sat, sun)}, {"FRI-SUN", days(fri, sat, sun)},
		{"0-7", every}, {"0-6", every}, {"7-7", days(sun)},
		{"*/2", days(sun, tue, thu, sat)}, {"*/3", days(sun, wed, sat)},
		{"1-5/2", days(mon, wed, fri)}, {"1-7/2", days(mon, wed, fri, sun)}, {"0-7/2", days(sun, tue, thu, sat)},
		{"0-6/3", days(sun, wed, sat)}, {"1/2", days(mon, wed, fri)}, {"0/3", days(sun, wed, sat)},
		{"5L", last(fri)}, {"0L", last(sun)}, {"7L", last(sun)}, {"1L", last(mon)}, {"FRIL", last(fri)}, {"6L", last(sat)},
		{"5#3", nth(fri, 3)}, {"0#1", nth(sun, 1)}, {"7#2", nth(sun, 2)}, {"MON#5", nth(mon, 5)}, {"1#4", nth(mon, 4)},
		{"*", every}, {"?", every},
	}
	from := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	until := time.Date(2027, 5, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.dow, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			var want []string
			for d := from; d.Before(until); d = d.AddDate(0, 0, 1) {
				if tt.want(d) {
					want = append(want, d.Format(time.DateOnly))
				}
			}
			trig := newTestTrigger(t, TriggerConfig{Expression: "0 9 * * " + tt.dow})
			var got []string
			after := from
			for range 200 { // at most 120 days in the range
				f, err := trig.Next(after)
				is.NoErr(err)
				if !f.Scheduled.Before(until) {
					break
				}
				is.Equal(f.Scheduled.Format(time.TimeOnly), "09:00:00") // fires at 09:00
				got = append(got, f.Scheduled.Format(time.DateOnly))
				after = f.Scheduled
			}
			is.Equal(got, want) // the classic meaning's dates
		})
	}
}

func TestFiveFieldDayOfWeekRejects(t *testing.T) {
	t.Parallel()
	for _, dow := range []string{"8", "1,5L", "5L,1", "FRI#6", "3-1", "1-5/0", "XYZ", "5#"} {
		t.Run(dow, func(t *testing.T) {
			t.Parallel()
			_, err := NewTrigger(TriggerConfig{WorkflowID: "wf", Expression: "0 9 * * " + dow})
			is.New(t).True(err != nil) // refused
		})
	}
}
