package scheduling

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
