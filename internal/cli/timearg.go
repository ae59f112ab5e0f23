package cli

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kong"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// timeArg is a point in time as a flag gives it (type:"time"): "now"; a time relative to
// now, -24h, +30m, -7d; an RFC 3339 time, 2026-03-01T12:00:00Z; or a local date or time
// without zone, 2026-03-01, 2026-03-01T12:00, "2026-03-01 12:00:05", read in the zone times
// are shown in (Env.Location). It is resolved when the command runs, against Env.Now.
type timeArg struct {
	raw      string
	set      bool
	relative time.Duration // for "now" and ±durations
	isRel    bool
	abs      time.Time // for RFC 3339
	layout   string    // for local times: parsed again in the output's zone
}

// localLayouts are the layouts of a time without zone.
var localLayouts = []string{"2006-01-02", "2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02 15:04:05"}

// parseTimeArg reads s as timeArg describes.
func parseTimeArg(s string) (timeArg, error) {
	t := timeArg{raw: s, set: true}
	switch {
	case s == "now":
		t.isRel = true
		return t, nil
	case strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+"):
		d, err := parseSignedDuration(s)
		if err != nil {
			return t, err
		}
		t.relative, t.isRel = d, true
		return t, nil
	}
	if abs, err := time.Parse(time.RFC3339Nano, s); err == nil {
		t.abs = abs
		return t, nil
	}
	for _, layout := range localLayouts {
		if _, err := time.Parse(layout, s); err == nil {
			t.layout = layout
			return t, nil
		}
	}
	return t, fmt.Errorf("%q is not a time: write now, -24h, -7d, +1h, 2026-03-01, 2026-03-01T12:00 or 2026-03-01T12:00:00Z", s)
}

// parseSignedDuration reads -24h, +90m, -7d (days of 24 hours).
func parseSignedDuration(s string) (time.Duration, error) {
	sign, rest := time.Duration(1), s[1:]
	if s[0] == '-' {
		sign = -1
	}
	if days, ok := strings.CutSuffix(rest, "d"); ok {
		n, err := strconv.ParseUint(days, 10, 16)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number of days: write -7d", s)
		}
		return sign * time.Duration(n) * 24 * time.Hour, nil //nolint:gosec // at most 65535 days
	}
	d, err := time.ParseDuration(rest)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration: write -24h, -90m or -7d", s)
	}
	return sign * d, nil
}

// at is the time t stands for, with now the current time and loc the zone of local times.
func (t timeArg) at(now time.Time, loc *time.Location) time.Time {
	switch {
	case t.isRel:
		return now.Add(t.relative)
	case t.layout != "":
		local, _ := time.ParseInLocation(t.layout, t.raw, loc) // parsed once already
		return local
	}
	return t.abs
}

// timestamp is at as a protobuf timestamp; nil when the flag was not given.
func (t timeArg) timestamp(env *Env) *timestamppb.Timestamp {
	if !t.set {
		return nil
	}
	return timestamppb.New(t.at(env.Now(), env.Location))
}

// timeMapper is the kong mapper of timeArg flags, so that a bad time is a usage error naming
// its flag.
type timeMapper struct{}

func (timeMapper) Decode(ctx *kong.DecodeContext, target reflect.Value) error {
	var s string
	if err := ctx.Scan.PopValueInto("time", &s); err != nil {
		return err
	}
	t, err := parseTimeArg(s)
	if err != nil {
		return err
	}
	target.Set(reflect.ValueOf(t))
	return nil
}

// PlaceHolder implements kong.PlaceHolderProvider.
func (timeMapper) PlaceHolder(*kong.Flag) string { return "TIME" }
