package calendars

import (
	"cmp"
	"fmt"
	"regexp"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/cron"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
)

// Calendar is a named set of blackout windows read in one IANA time zone.
type Calendar struct {
	// Name is unique: lower-case letters, digits, '.', '_' and '-', at most 64 characters.
	Name        string
	Description string
	// Timezone is an IANA name; "UTC" when none was given (Normalize).
	Timezone string
	// DateRanges are whole days, both ends included.
	DateRanges []DateRange
	// Holidays are whole days, as "2026-12-25".
	Holidays []string
	// WeeklyWindows recur every week.
	WeeklyWindows []WeeklyWindow
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// DateRange is whole days from Start to End, both included, as "2026-12-24".
type DateRange struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// WeeklyWindow is wall-clock time from Start (included) to End (excluded), "HH:MM", on the
// days it starts on. End at or before Start runs past midnight; End "24:00" is the day's end.
type WeeklyWindow struct {
	Days  []time.Weekday `json:"days"`
	Start string         `json:"start"`
	End   string         `json:"end"`
}

// DefaultTimezone is the zone of a calendar given none.
const DefaultTimezone = "UTC"

// dateLayout is the layout of the dates of a calendar.
const dateLayout = time.DateOnly

var (
	namePattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$`)
	clockRe     = regexp.MustCompile(`^([01][0-9]|2[0-3]):([0-5][0-9])$`)
)

// Normalize returns c with its defaults filled: the time zone UTC.
func (c Calendar) Normalize() Calendar {
	c.Timezone = cmp.Or(c.Timezone, DefaultTimezone)
	return c
}

// Validate checks what the proto's rules cannot: the name's shape (again, for callers other
// than the API), that the zone exists, that every date is a real date and ranges are ordered,
// that holidays are unique and that every weekly window has known, unique days and real
// times. prefix is the calendar's field path in the request ("calendar").
func (c *Calendar) Validate(v *errdefs.ValidationError, prefix string) {
	if !namePattern.MatchString(c.Name) {
		v.Add(prefix+".name", "string.pattern", "must be lower-case letters, digits, '.', '_' or '-', starting and ending with a letter or digit, at most 64 characters")
	}
	if _, err := cron.LoadLocation(c.Timezone); err != nil {
		v.Add(prefix+".timezone", "timezone.iana", "%v", err)
	}
	for i, r := range c.DateRanges {
		field := fmt.Sprintf("%s.date_ranges[%d]", prefix, i)
		start, okS := realDate(v, field+".start_date", r.Start)
		end, okE := realDate(v, field+".end_date", r.End)
		if okS && okE && end.Before(start) {
			v.Add(field, "date_range.ordered", "end_date must not be before start_date")
		}
	}
	seen := map[string]bool{}
	for i, h := range c.Holidays {
		field := fmt.Sprintf("%s.holidays[%d]", prefix, i)
		if _, ok := realDate(v, field, h); ok && seen[h] {
			v.Add(field, "repeated.unique", "%s is listed twice", h)
		}
		seen[h] = true
	}
	for i, w := range c.WeeklyWindows {
		field := fmt.Sprintf("%s.weekly_windows[%d]", prefix, i)
		if len(w.Days) == 0 {
			v.Add(field+".days", "repeated.min_items", "name at least one day")
		}
		days := map[time.Weekday]bool{}
		for j, d := range w.Days {
			if d < time.Sunday || d > time.Saturday {
				v.Add(fmt.Sprintf("%s.days[%d]", field, j), "enum.defined_only", "not a day of the week")
			} else if days[d] {
				v.Add(fmt.Sprintf("%s.days[%d]", field, j), "repeated.unique", "%s is listed twice", d)
			}
			days[d] = true
		}
		if _, ok := clock(w.Start, false); !ok {
			v.Add(field+".start_time", "window.time", "%q is not a time of day as HH:MM (00:00 to 23:59)", w.Start)
		}
		if _, ok := clock(w.End, true); !ok {
			v.Add(field+".end_time", "window.time", "%q is not a time of day as HH:MM (00:00 to 24:00)", w.End)
		}
	}
}

// realDate parses s as a date, adding a violation at field when it is not a real one
// (2026-02-30).
func realDate(v *errdefs.ValidationError, field, s string) (time.Time, bool) {
	d, err := time.Parse(dateLayout, s)
	if err != nil {
		v.Add(field, "date.real", "%q is not a real date as YYYY-MM-DD", s)
		return time.Time{}, false
	}
	return d, true
}

// clock parses "HH:MM" as the time since midnight; "24:00" only when allowEnd.
func clock(s string, allowEnd bool) (time.Duration, bool) {
	if allowEnd && s == "24:00" {
		return 24 * time.Hour, true
	}
	m := clockRe.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	h, mi := int(m[1][0]-'0')*10+int(m[1][1]-'0'), int(m[2][0]-'0')*10+int(m[2][1]-'0')
	return time.Duration(h)*time.Hour + time.Duration(mi)*time.Minute, true
}
