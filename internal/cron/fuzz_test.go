package cron

import (
	"errors"
	"testing"
	"time"

	"github.com/reugn/go-quartz/quartz"

	"github.com/workflow-runtime/workflow-runtime/internal/policy"
)

// fuzzZones are the time zones FuzzTrigger picks from: UTC, zones with DST either way round,
// a 30-minute shift (Lord Howe) and a zone that skipped a whole day (Apia, 2011-12-30).
var fuzzZones = []string{"", "UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Pacific/Apia", "Asia/Kolkata", "America/Santiago"}

// FuzzTrigger: for any expression, zone, jitter window, DST policies and start time, NewTrigger
// and Next never panic or hang, and the fires they give move strictly forward, each exactly the
// jitter offset after its nominal time, the offset inside the window.
//
//	go test -run=^$ -fuzz=^FuzzTrigger$ -fuzztime=2m ./internal/cron
func FuzzTrigger(f *testing.F) {
	for _, seed := range []struct {
		expr      string
		zone      uint8
		window    int32
		rep, skip uint8
		unix      int64
	}{
		{"*/5 * * * *", 0, 300, 0, 0, 1767225600},
		{"30 2 * * *", 2, 0, 2, 2, 1774663200},         // Berlin spring forward
		{"30 2 * * *", 2, 0, 1, 1, 1792368000},         // Berlin fall back
		{"0 0 30 2 *", 0, 300, 0, 0, 1767225600},       // February 30th: never fires
		{"0 0 0 1 1 * 2270", 0, 300, 0, 0, 1767225600}, // past what nanoseconds hold
		{"0 0 0 ? 1 MON#5 2027", 0, 0, 0, 0, 1767225600},
		{"0 0 0 ? 2 MON#5", 1, 0, 0, 0, 1767225600},
		{"0 0 0 L-30 2 ?", 0, 0, 0, 0, 1767225600},
		{"0 0 0 1 1 ? 2020", 0, 0, 0, 0, 1767225600},
		{"@hourly", 3, 3600, 0, 0, 1762066800},
		{"0 0 12 29 2 ?", 4, 86400, 1, 2, 1767225600},
		{"0 0 0 30 12 ? 2011", 5, 0, 0, 1, 1325160000}, // the day Samoa skipped
		{"0 15 10 ? * 6#3", 6, 7, 2, 1, 0},
		{"* * * * * ? *", 7, 1, 0, 0, -1},
	} {
		f.Add(seed.expr, seed.zone, seed.window, seed.rep, seed.skip, seed.unix)
	}
	f.Fuzz(func(t *testing.T, expr string, zone uint8, window int32, rep, skip uint8, unix int64) {
		tr, err := NewTrigger(TriggerConfig{
			WorkflowID:          "fuzz",
			Expression:          expr,
			TimeZone:            fuzzZones[int(zone)%len(fuzzZones)],
			JitterWindowSeconds: &window,
			RepeatedHour:        policy.RepeatedHour(rep % 3),
			SkippedHour:         policy.SkippedHour(skip % 3),
		})
		if err != nil {
			return
		}
		if tr.Offset() < 0 || (window > 0 && tr.Offset() >= time.Duration(window)*time.Second) {
			t.Fatalf("offset %s outside the window %ds", tr.Offset(), window)
		}
		// From a time inside what the scheduler handles: 1970 to 2200.
		after := time.Unix(int64(uint64(unix)%(230*365*86400)), 0)
		checkDSTReport(t, tr, after)
		for range 5 {
			fire, err := tr.Next(after)
			if errors.Is(err, quartz.ErrTriggerExpired) {
				return
			}
			if err != nil {
				t.Fatalf("Next(%s): %v", after, err)
			}
			if !fire.Scheduled.After(after) {
				t.Fatalf("Next(%s) = %s, not after", after, fire.Scheduled)
			}
			if fire.Scheduled.Sub(fire.Nominal) != tr.Offset() {
				t.Fatalf("scheduled %s is not nominal %s + offset %s", fire.Scheduled, fire.Nominal, tr.Offset())
			}
			after = fire.Scheduled
		}
	})
}

// FuzzNormalizeCron: NormalizeCron never panics, and what it accepts is an expression of six or
// seven fields that it reads again as itself.
func FuzzNormalizeCron(f *testing.F) {
	for _, s := range []string{"*/5 * * * *", "0 0 30 2 *", "0 0 0 1 1 * 2270", "@daily", "@nope", "0 9 * * 1-5", "0 9 1 * 1", "0 0 0 ? 1 MON#5 2027", "7 7 7 7 7/7", "0 9 * * 5L", "0 9 * * 5-7/2", "0 9 * * 0-7", "", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		q, err := NormalizeCron(expr)
		if err != nil {
			return
		}
		again, err := NormalizeCron(q)
		if err != nil || again != q {
			t.Fatalf("NormalizeCron(%q) = %q, which reads as %q, %v", expr, q, again, err)
		}
	})
}

// checkDSTReport holds a trigger's DST report for a year to what it must say: transitions after
// from, in order, each with times; one fire when SHIFTED, none when SKIPPED, fires inside the
// stretch's two passes otherwise.
func checkDSTReport(t *testing.T, tr *Trigger, from time.Time) {
	t.Helper()
	r, err := tr.DSTReport(from, 12)
	if err != nil {
		t.Fatalf("DSTReport(%s): %v", from, err)
	}
	prev := from
	for _, x := range r.Transitions {
		if !x.At.After(prev) || len(x.Times) == 0 {
			t.Fatalf("transition %+v after %s", x, prev)
		}
		prev = x.At
		d := (x.OffsetBefore - x.OffsetAfter).Abs()
		switch x.Effect {
		case DSTShifted:
			if len(x.Fires) != 1 || !x.Fires[0].Nominal.Equal(x.At) {
				t.Fatalf("shifted %+v: want one fire at the transition", x)
			}
		case DSTSkipped:
			if len(x.Fires) != 0 {
				t.Fatalf("skipped %+v has fires", x)
			}
		default:
			for _, f := range x.Fires {
				if f.Nominal.Before(x.At.Add(-d)) || !f.Nominal.Before(x.At.Add(d)) {
					t.Fatalf("repeated %+v: fire %s outside both passes", x, f.Nominal)
				}
			}
		}
	}
}
