package cli_test

import (
	"strings"
	"testing"

	"github.com/matryer/is"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/internal/cli"
)

func TestCalendars(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	dir := t.TempDir()
	yamlFile := writeFile(t, dir, "freeze.yaml", `name: cli-freeze
description: holidays
timezone: Europe/Berlin
dateRanges: [{startDate: "2026-12-24", endDate: "2027-01-01"}]
holidays: ["2026-05-01"]
weeklyWindows:
  - {days: [WEEKDAY_FRIDAY, WEEKDAY_SATURDAY], startTime: "22:00", endTime: "06:00"}
`)
	out := cmd(t, "calendars", "create", "-f", yamlFile).must(t).stdout
	is.True(strings.Contains(out, "calendar cli-freeze created"))
	is.True(strings.Contains(out, "fri,sat 22:00-06:00"))
	is.True(strings.Contains(out, "2026-12-24 to 2027-01-01"))

	// JSON from stdin, as JSON output.
	created := parse(t, invocation{stdin: `{"name": "cli-json", "holidays": ["2026-10-03"]}`}.run(t, "calendars", "create", "-f", "-", "-o", "json").must(t).stdout, &v1.Calendar{})
	is.Equal(created.GetTimezone(), "UTC") // the default

	got := parse(t, cmd(t, "calendars", "get", "cli-freeze", "-o", "json").must(t).stdout, &v1.Calendar{})
	is.Equal(got.GetHolidays(), []string{"2026-05-01"})
	is.Equal(got.GetWeeklyWindows()[0].GetDays(), []v1.Weekday{v1.Weekday_WEEKDAY_FRIDAY, v1.Weekday_WEEKDAY_SATURDAY})

	updated := writeFile(t, dir, "updated.json", `{"name": "cli-freeze", "holidays": ["2026-05-01", "2026-12-25"]}`)
	out = cmd(t, "calendars", "update", "-f", updated).must(t).stdout
	is.True(strings.Contains(out, "2026-05-01, 2026-12-25"))

	list := parse(t, cmd(t, "calendars", "list", "-o", "json").must(t).stdout, &v1.ListCalendarsResponse{})
	names := map[string]bool{}
	for _, c := range list.GetCalendars() {
		names[c.GetName()] = true
	}
	is.True(names["cli-freeze"] && names["cli-json"])
	table := cmd(t, "calendars", "ls").must(t).stdout
	is.True(strings.Contains(table, "cli-freeze") && strings.Contains(table, "WEEKLY WINDOWS"))

	is.True(strings.Contains(cmd(t, "calendars", "delete", "cli-json").must(t).stdout, "calendar cli-json deleted"))

	bad := writeFile(t, dir, "bad.yaml", "name: cli-bad\nholidays: [\"2026-02-30\"]\n")
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"calendars", "create", "-f", yamlFile}, cli.ExitConflict},           // exists already
		{[]string{"calendars", "create", "-f", bad}, cli.ExitUsage},                   // not a real date
		{[]string{"calendars", "create", "-f", dir + "/missing.yaml"}, cli.ExitUsage}, // no such file
		{[]string{"calendars", "get", "cli-json"}, cli.ExitNotFound},                  // deleted
		{[]string{"calendars", "delete", "cli-json"}, cli.ExitNotFound},
	} {
		r := cmd(t, tc.args...)
		is.Equal(r.code, tc.code) // exit code of the refusal
		is.True(r.stderr != "")
	}
	r := invocation{stdin: "- just a list"}.run(t, "calendars", "create", "-f", "-")
	is.Equal(r.code, cli.ExitUsage) // not a mapping
}
