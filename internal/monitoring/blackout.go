package monitoring

import (
	"context"
	"fmt"
	"strings"

	"github.com/workflow-runtime/workflow-runtime/internal/calendars"
)

// CalendarReader reads blackout calendars (internal/store implements it).
type CalendarReader interface {
	CalendarGetMany(ctx context.Context, names []string) ([]*calendars.Calendar, error)
}

// calendarKey joins a trigger's calendar names into the part of its schedule key that says
// which fires the projection leaves out.
func calendarKey(names []string) string { return strings.Join(names, "\x00") }

// blackoutSets compiles, once per distinct list of names among the groups, the calendars that
// cover fires: the load projection does not count a fire a calendar covers (the scheduler
// records it SKIPPED and runs nothing). Without a CalendarReader nothing is covered.
func (s *Service) blackoutSets(ctx context.Context, groups map[scheduleKey]map[int]int64) (map[string]calendars.Set, error) {
	out := map[string]calendars.Set{}
	if s.calendars == nil {
		return out, nil
	}
	names := map[string]bool{}
	for k := range groups {
		if k.calendars != "" {
			for n := range strings.SplitSeq(k.calendars, "\x00") {
				names[n] = true
			}
		}
	}
	if len(names) == 0 {
		return out, nil
	}
	list := make([]string, 0, len(names))
	for n := range names {
		list = append(list, n)
	}
	cs, err := s.calendars.CalendarGetMany(ctx, list)
	if err != nil {
		return nil, fmt.Errorf("load distribution: %w", err)
	}
	compiled := map[string]*calendars.Matcher{}
	for _, c := range cs {
		m, err := calendars.Compile(c)
		if err != nil {
			return nil, fmt.Errorf("load distribution: %w", err)
		}
		compiled[c.Name] = m
	}
	for k := range groups {
		if k.calendars == "" || out[k.calendars] != nil {
			continue
		}
		var set calendars.Set
		for n := range strings.SplitSeq(k.calendars, "\x00") {
			if m := compiled[n]; m != nil {
				set = append(set, m)
			}
		}
		out[k.calendars] = set
	}
	return out, nil
}
