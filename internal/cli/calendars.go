package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
)

// CalendarsCmd groups the commands about blackout calendars.
type CalendarsCmd struct {
	Create CalendarsCreateCmd `cmd:"" help:"Create a blackout calendar from a YAML or JSON file."`
	Update CalendarsUpdateCmd `cmd:"" help:"Replace a blackout calendar whole from a YAML or JSON file."`
	Get    CalendarsGetCmd    `cmd:"" help:"Show one blackout calendar."`
	List   CalendarsListCmd   `cmd:"" aliases:"ls" help:"List blackout calendars by name."`
	Delete CalendarsDeleteCmd `cmd:"" help:"Delete a blackout calendar no cron trigger names."`
}

// Help implements kong.HelpProvider.
func (*CalendarsCmd) Help() string {
	return `A blackout calendar is a named set of windows (date ranges, holidays, weekly windows) in one time zone; a cron trigger that names it in blackout_calendars does not fire in them: the fire is recorded SKIPPED with the calendar's name.

Examples:

    workflow-runtime calendars create -f freeze.yaml
    workflow-runtime calendars list
    workflow-runtime calendars get release-freeze -o json
    workflow-runtime calendars delete release-freeze`
}

// calendarFile is the -f flag of create and update.
type calendarFile struct {
	File string `short:"f" name:"filename" required:"" placeholder:"FILE|-" help:"A YAML or JSON file holding one Calendar (name, description, timezone, dateRanges, holidays, weeklyWindows), or - for stdin."`
}

// read decodes the file as one v1.Calendar: YAML (or JSON, which YAML reads too) turned into
// JSON and read with protojson, so field names and enums are the API's.
func (f calendarFile) read(stdin io.Reader) (*v1.Calendar, error) {
	var (
		b    []byte
		err  error
		name = f.File
	)
	if f.File == "-" {
		name = "stdin"
		b, err = io.ReadAll(stdin)
	} else {
		b, err = os.ReadFile(filepath.Clean(f.File))
	}
	if err != nil {
		return nil, usagef("%v", err)
	}
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		return nil, usagef("%s: %v", name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, usagef("%s: a calendar is a mapping with name, timezone, dateRanges, holidays and weeklyWindows", name)
	}
	j, err := json.Marshal(v)
	if err != nil {
		return nil, usagef("%s: %v", name, err)
	}
	c := &v1.Calendar{}
	if err := protojson.Unmarshal(j, c); err != nil {
		return nil, usagef("%s: %s", name, protojsonError(err))
	}
	return c, nil
}

// CalendarsCreateCmd creates a calendar (CreateCalendar).
type CalendarsCreateCmd struct {
	Connection   `embed:""`
	Output       `embed:""`
	calendarFile `embed:""`
}

// Help implements kong.HelpProvider.
func (*CalendarsCreateCmd) Help() string {
	return `The file holds one Calendar, for example:

    name: release-freeze
    description: no deploys over the holidays nor on weekend nights
    timezone: Europe/Berlin
    dateRanges: [{startDate: "2026-12-24", endDate: "2027-01-01"}]
    holidays: ["2026-05-01"]
    weeklyWindows:
      - {days: [WEEKDAY_FRIDAY, WEEKDAY_SATURDAY], startTime: "22:00", endTime: "06:00"}

Examples:

    workflow-runtime calendars create -f freeze.yaml
    cat freeze.json | workflow-runtime calendars create -f -`
}

func (c *CalendarsCreateCmd) Run(ctx context.Context, env *Env) error {
	cal, err := c.read(env.Stdin)
	if err != nil {
		return err
	}
	client, err := c.client()
	if err != nil {
		return err
	}
	res, err := client.Raw().CreateCalendar(ctx, &v1.CreateCalendarRequest{Calendar: cal})
	if err != nil {
		return err
	}
	return printCalendar(newPrinter(env, c.Output.Output), res.GetCalendar(), "created")
}

// CalendarsUpdateCmd replaces a calendar (UpdateCalendar).
type CalendarsUpdateCmd struct {
	Connection   `embed:""`
	Output       `embed:""`
	calendarFile `embed:""`
}

// Help implements kong.HelpProvider.
func (*CalendarsUpdateCmd) Help() string {
	return `The file holds the whole calendar, as for create; the triggers that name it follow at once.

Examples:

    workflow-runtime calendars update -f freeze.yaml`
}

func (c *CalendarsUpdateCmd) Run(ctx context.Context, env *Env) error {
	cal, err := c.read(env.Stdin)
	if err != nil {
		return err
	}
	client, err := c.client()
	if err != nil {
		return err
	}
	res, err := client.Raw().UpdateCalendar(ctx, &v1.UpdateCalendarRequest{Calendar: cal})
	if err != nil {
		return err
	}
	return printCalendar(newPrinter(env, c.Output.Output), res.GetCalendar(), "updated")
}

// CalendarsGetCmd shows one calendar (GetCalendar).
type CalendarsGetCmd struct {
	Connection `embed:""`
	Output     `embed:""`

	Name string `arg:"" help:"The calendar's name."`
}

// Help implements kong.HelpProvider.
func (*CalendarsGetCmd) Help() string {
	return `Examples:

    workflow-runtime calendars get release-freeze
    workflow-runtime calendars get release-freeze -o yaml`
}

func (c *CalendarsGetCmd) Run(ctx context.Context, env *Env) error {
	client, err := c.client()
	if err != nil {
		return err
	}
	res, err := client.Raw().GetCalendar(ctx, &v1.GetCalendarRequest{Name: c.Name})
	if err != nil {
		return err
	}
	return printCalendar(newPrinter(env, c.Output.Output), res.GetCalendar(), "")
}

// CalendarsListCmd lists calendars (ListCalendars, every page).
type CalendarsListCmd struct {
	Connection `embed:""`
	Output     `embed:""`
}

// Help implements kong.HelpProvider.
func (*CalendarsListCmd) Help() string {
	return `Examples:

    workflow-runtime calendars list
    workflow-runtime calendars ls -o json`
}

func (c *CalendarsListCmd) Run(ctx context.Context, env *Env) error {
	client, err := c.client()
	if err != nil {
		return err
	}
	all := &v1.ListCalendarsResponse{}
	token := ""
	for range 1000 { // at most a million calendars
		res, err := client.Raw().ListCalendars(ctx, &v1.ListCalendarsRequest{PageSize: 1000, PageToken: token})
		if err != nil {
			return err
		}
		all.Calendars = append(all.Calendars, res.GetCalendars()...)
		if token = res.GetNextPageToken(); token == "" {
			break
		}
	}
	p := newPrinter(env, c.Output.Output)
	if !p.people() {
		return p.message(all)
	}
	rows := make([][]string, 0, len(all.GetCalendars()))
	for _, cal := range all.GetCalendars() {
		rows = append(rows, []string{cal.GetName(), cal.GetTimezone(), fmt.Sprint(len(cal.GetDateRanges())),
			fmt.Sprint(len(cal.GetHolidays())), fmt.Sprint(len(cal.GetWeeklyWindows())), p.time(cal.GetUpdateTime()), orDash(truncate(cal.GetDescription(), 40))})
	}
	p.table([]string{"name", "timezone", "date ranges", "holidays", "weekly windows", "updated", "description"}, rows)
	return nil
}

// CalendarsDeleteCmd deletes a calendar (DeleteCalendar).
type CalendarsDeleteCmd struct {
	Connection `embed:""`

	Name string `arg:"" help:"The calendar's name."`
}

// Help implements kong.HelpProvider.
func (*CalendarsDeleteCmd) Help() string {
	return `Refused (exit code of a conflict) while a cron trigger of a deployment that is not deleted names the calendar.

Examples:

    workflow-runtime calendars delete release-freeze`
}

func (c *CalendarsDeleteCmd) Run(ctx context.Context, env *Env) error {
	client, err := c.client()
	if err != nil {
		return err
	}
	if _, err := client.Raw().DeleteCalendar(ctx, &v1.DeleteCalendarRequest{Name: c.Name}); err != nil {
		return err
	}
	newPrinter(env, formatTable).printf("calendar %s deleted\n", c.Name)
	return nil
}

// printCalendar shows a calendar: its fields for people (after "<name> <done>" when done is
// set), the message otherwise.
func printCalendar(p *printer, c *v1.Calendar, done string) error {
	if !p.people() {
		return p.message(c)
	}
	if done != "" {
		p.printf("calendar %s %s\n", c.GetName(), done)
	}
	var ranges, windows []string
	for _, r := range c.GetDateRanges() {
		ranges = append(ranges, r.GetStartDate()+" to "+r.GetEndDate())
	}
	for _, w := range c.GetWeeklyWindows() {
		days := make([]string, len(w.GetDays()))
		for i, d := range w.GetDays() {
			days[i] = strings.ToLower(strings.TrimPrefix(d.String(), "WEEKDAY_"))[:3]
		}
		windows = append(windows, strings.Join(days, ",")+" "+w.GetStartTime()+"-"+w.GetEndTime())
	}
	p.fields(
		[2]string{"name", c.GetName()},
		[2]string{"description", orDash(c.GetDescription())},
		[2]string{"timezone", c.GetTimezone()},
		[2]string{"date ranges", orDash(strings.Join(ranges, "; "))},
		[2]string{"holidays", orDash(strings.Join(c.GetHolidays(), ", "))},
		[2]string{"weekly windows", orDash(strings.Join(windows, "; "))},
		[2]string{"updated", p.time(c.GetUpdateTime())},
	)
	return nil
}
