package scheduling

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/reugn/go-quartz/quartz"
)

// macros are the @-shorthands people write for Kubernetes CronJobs, in Quartz form.
var macros = map[string]string{
	"@yearly":   "0 0 0 1 1 ?",
	"@annually": "0 0 0 1 1 ?",
	"@monthly":  "0 0 0 1 * ?",
	"@weekly":   "0 0 0 ? * SUN",
	"@daily":    "0 0 0 * * ?",
	"@midnight": "0 0 0 * * ?",
	"@hourly":   "0 0 * * * ?",
}

// standardDays names the day-of-week numbers of standard cron (0 and 7 are Sunday); Quartz numbers
// them 1-7 from Sunday, so numbers are rewritten as names, which both read the same way.
var standardDays = [...]string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"}

// dayNumber matches a day number that is not a step ("/2") or an nth-weekday suffix ("#3").
var dayNumber = regexp.MustCompile(`(^|[^/#0-9])([0-7])\b`)

// NormalizeCron turns a standard 5-field expression or an @-macro into the Quartz 6-field form
// that go-quartz parses; 6- and 7-field Quartz expressions pass through with whitespace folded.
//
// Standard cron's day-of-month and day-of-week are OR-ed when both are restricted; Quartz has no
// such form, so that combination is refused rather than read differently.
func NormalizeCron(expr string) (string, error) {
	fields := strings.Fields(expr)
	if len(fields) == 1 && strings.HasPrefix(fields[0], "@") {
		q, ok := macros[strings.ToLower(fields[0])]
		if !ok {
			return "", fmt.Errorf("unknown macro %q (known: @yearly, @monthly, @weekly, @daily, @hourly)", fields[0])
		}
		return q, nil
	}
	switch len(fields) {
	case 5:
		minute, hour, dom, month, dow := fields[0], fields[1], fields[2], fields[3], fields[4]
		dow = dayNumber.ReplaceAllStringFunc(dow, func(m string) string {
			sub := dayNumber.FindStringSubmatch(m)
			return sub[1] + standardDays[sub[2][0]-'0']
		})
		switch {
		case dom != "*" && dom != "?" && dow != "*" && dow != "?":
			return "", errors.New("day-of-month and day-of-week are both restricted; use one of them")
		case dow == "*" || dow == "?":
			dow = "?"
		default:
			dom = "?"
		}
		return strings.Join([]string{"0", minute, hour, dom, month, dow}, " "), nil
	case 6, 7:
		// go-quartz v0.15.2 recurses without end (a fatal stack overflow, which no recover
		// catches) looking for an nth weekday ("MON#5") in years that never have it; without a
		// year field every nth weekday comes within 28 years.
		if len(fields) == 7 && strings.Contains(fields[5], "#") && fields[6] != "*" {
			return "", errors.New("an nth weekday (#) in day-of-week cannot be combined with a year field")
		}
		return strings.Join(fields, " "), nil
	default:
		return "", fmt.Errorf("expected 5 fields (minute hour day-of-month month day-of-week), 6 or 7 (Quartz, with seconds first), or an @-macro; got %d fields", len(fields))
	}
}

// ParseCron parses a 5-, 6- or 7-field expression or an @-macro in loc.
func ParseCron(expr string, loc *time.Location) (*quartz.CronTrigger, error) {
	q, err := NormalizeCron(expr)
	if err != nil {
		return nil, err
	}
	t, err := quartz.NewCronTriggerWithLoc(q, loc)
	if err != nil {
		return nil, fmt.Errorf("parse %q: %w", q, err)
	}
	// Some expressions parse but never fire (February 30th); a schedule that cannot fire is an error.
	if _, err := t.NextFireTime(time.Now().UnixNano()); err != nil {
		return nil, fmt.Errorf("%q never fires: %w", expr, err)
	}
	return t, nil
}

// LoadLocation resolves an IANA time zone name; "" is UTC. "Local" is refused: a schedule must
// not depend on the machine it happens to run on.
func LoadLocation(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	if name == "Local" {
		return nil, errors.New(`"Local" is not an IANA time zone; name one such as "Europe/Berlin"`)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown IANA time zone %q", name)
	}
	return loc, nil
}
