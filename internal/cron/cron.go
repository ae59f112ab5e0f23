package cron

import (
	"errors"
	"fmt"
	"strconv"
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

// quartzDayOfWeek rewrites a standard cron day-of-week field in Quartz terms, item by item:
//
//   - a number 0-7 or a name becomes the name: "5" is FRI, "0" and "7" are SUN;
//   - "nL" (the last such weekday of the month) and "n#k" (the k-th) keep their suffix: "5L" is
//     FRIL, "5#3" FRI#3;
//   - a range "a-b" or "a-b/s" becomes names ("1-5" is MON-FRI); one that reaches 7, which Quartz
//     has no day after SAT for, becomes the list of its days ("5-7" is FRI,SAT,SUN), and so does
//     a range written with SUN at its end ("FRI-SUN");
//   - "n/s" runs from n through Saturday in steps of s, as Quartz reads it ("1/2" is MON/2:
//     Monday, Wednesday, Friday);
//   - "*", "?", "*/s" and anything else pass through (Quartz numbers Sunday 1, so "*/2" is
//     Sunday, Tuesday, Thursday, Saturday in both).
func quartzDayOfWeek(field string) string {
	items := strings.Split(field, ",")
	for i, item := range items {
		items[i] = quartzDayItem(item)
	}
	return strings.Join(items, ",")
}

func quartzDayItem(item string) string {
	upper := strings.ToUpper(item)
	if base, ok := strings.CutSuffix(upper, "L"); ok && base != "" {
		if d, ok := standardDay(base); ok {
			return standardDays[d] + "L"
		}
		return item
	}
	if base, nth, ok := strings.Cut(upper, "#"); ok {
		if d, ok := standardDay(base); ok {
			return standardDays[d] + "#" + nth
		}
		return item
	}
	base, step, hasStep := strings.Cut(upper, "/")
	from, to, isRange := strings.Cut(base, "-")
	a, ok := standardDay(from)
	if !ok {
		return item // "*", "?", "*/2", or something Quartz will judge
	}
	suffix := ""
	if hasStep {
		suffix = "/" + step
	}
	if !isRange {
		return standardDays[a] + suffix
	}
	b, ok := standardDay(to)
	if !ok {
		return item
	}
	if b == 0 && a > 0 {
		b = 7 // "FRI-SUN": Sunday at the end of the week
	}
	if b < 7 || a > b {
		return standardDays[a] + "-" + standardDays[b] + suffix // Quartz refuses a backward range
	}
	s := 1
	if hasStep {
		n, err := strconv.Atoi(step)
		if err != nil || n < 1 {
			return item
		}
		s = n
	}
	var days []string
	for d := a; d <= b; d += s {
		if d != 7 || a != 0 { // "0-7" holds Sunday once
			days = append(days, standardDays[d])
		}
	}
	return strings.Join(days, ",")
}

// standardDay reads a day of standard cron: a number 0-7 or a name SUN-SAT.
func standardDay(s string) (int, bool) {
	if n, err := strconv.Atoi(s); err == nil {
		return n, n >= 0 && n <= 7
	}
	for i, name := range standardDays[:7] {
		if strings.EqualFold(s, name) {
			return i, true
		}
	}
	return 0, false
}

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
		dow = quartzDayOfWeek(dow)
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

// ParseCron parses a 5-, 6- or 7-field expression or an @-macro in loc. Its errors name expr as
// given and the field that is wrong, never the Quartz form it was rewritten to.
func ParseCron(expr string, loc *time.Location) (*quartz.CronTrigger, error) {
	q, err := NormalizeCron(expr)
	if err != nil {
		return nil, err
	}
	t, err := quartz.NewCronTriggerWithLoc(q, loc)
	if err != nil {
		return nil, cronError(expr, q, err)
	}
	// Some expressions parse but never fire (February 30th); a schedule that cannot fire is an error.
	if _, err := t.NextFireTime(time.Now().UnixNano()); err != nil {
		return nil, fmt.Errorf("%q never fires: %w", expr, err)
	}
	return t, nil
}

// cronField is one field of a cron expression: its name and what it takes.
type cronField struct{ name, want string }

// The fields of the two forms, in order. Every field also takes "*", lists (a,b), ranges (a-b)
// and steps (/n).
var (
	standardFields = []cronField{
		{"minute", "0-59"}, {"hour", "0-23"}, {"day-of-month", "1-31, L, LW, nW or ?"},
		{"month", "1-12 or JAN-DEC"}, {"day-of-week", "0-7 or SUN-SAT (0 and 7 are Sunday), nL or n#k"},
	}
	quartzFields = []cronField{
		{"second", "0-59"}, {"minute", "0-59"}, {"hour", "0-23"}, {"day-of-month", "1-31, L, LW, nW or ?"},
		{"month", "1-12 or JAN-DEC"}, {"day-of-week", "1-7 or SUN-SAT (1 is Sunday), nL, n#k or ?"},
		{"year", "1970 or later"},
	}
)

// cronError says what go-quartz refused in q, the Quartz form of expr, in the terms of expr:
// the first field that go-quartz refuses on its own, by name, with its text in expr and what
// the field takes. A refusal of the fields together (a 6- or 7-field expression restricting
// both days) keeps go-quartz's words; q is then expr with its whitespace folded.
func cronError(expr, q string, err error) error {
	given, fields := strings.Fields(expr), strings.Fields(q)
	names, offset := quartzFields, 0
	if len(given) == len(standardFields) {
		names, offset = standardFields, 1 // q has a seconds field in front
	}
	if len(given)+offset == len(fields) {
		for i := range given {
			if !quartzFieldParses(i+offset, fields[i+offset]) {
				return fmt.Errorf("%q: %s %q is not valid: want %s; any field also takes *, lists (a,b), ranges (a-b) and steps (/n)",
					expr, names[i].name, given[i], names[i].want)
			}
		}
	}
	if offset == 1 {
		return fmt.Errorf("%q is not a valid cron expression", expr)
	}
	return fmt.Errorf("%q: %w", expr, err)
}

// quartzFieldParses reports whether go-quartz takes value as field i of the Quartz form, with
// every other field "*" (or "?" for the other day field).
func quartzFieldParses(i int, value string) bool {
	trial := []string{"0", "*", "*", "*", "*", "?"}
	switch i {
	case 3: // day-of-month; day-of-week stays "?"
		trial[3] = value
	case 5: // day-of-week
		trial[3], trial[5] = "?", value
	case 6:
		trial = append(trial, value)
	default:
		trial[i] = value
	}
	_, err := quartz.NewCronTrigger(strings.Join(trial, " "))
	return err == nil
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
