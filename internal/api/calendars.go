package api

import (
	"context"
	"fmt"
	"strings"
	"time"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
	"github.com/workflow-runtime/workflow-runtime/internal/calendars"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
)

// The calendar RPCs (Create, Update, Delete, Get and ListCalendars) and the blackout fields of
// a cron trigger.

// CreateCalendar implements WorkflowRuntimeService.
func (h *Handler) CreateCalendar(ctx context.Context, req *v1.CreateCalendarRequest) (*v1.CreateCalendarResponse, error) {
	if h.calendars == nil {
		return h.UnimplementedWorkflowRuntimeServiceHandler.CreateCalendar(ctx, req)
	}
	c, err := h.calendars.Create(ctx, calendarFromProto(req.GetCalendar()))
	if err != nil {
		return nil, h.toConnect(ctx, err)
	}
	return &v1.CreateCalendarResponse{Calendar: calendarToProto(c)}, nil
}

// UpdateCalendar implements WorkflowRuntimeService.
func (h *Handler) UpdateCalendar(ctx context.Context, req *v1.UpdateCalendarRequest) (*v1.UpdateCalendarResponse, error) {
	if h.calendars == nil {
		return h.UnimplementedWorkflowRuntimeServiceHandler.UpdateCalendar(ctx, req)
	}
	c, err := h.calendars.Update(ctx, calendarFromProto(req.GetCalendar()))
	if err != nil {
		return nil, h.toConnect(ctx, err)
	}
	return &v1.UpdateCalendarResponse{Calendar: calendarToProto(c)}, nil
}

// DeleteCalendar implements WorkflowRuntimeService.
func (h *Handler) DeleteCalendar(ctx context.Context, req *v1.DeleteCalendarRequest) (*v1.DeleteCalendarResponse, error) {
	if h.calendars == nil {
		return h.UnimplementedWorkflowRuntimeServiceHandler.DeleteCalendar(ctx, req)
	}
	if err := h.calendars.Delete(ctx, req.GetName()); err != nil {
		return nil, h.toConnect(ctx, err)
	}
	return &v1.DeleteCalendarResponse{}, nil
}

// GetCalendar implements WorkflowRuntimeService.
func (h *Handler) GetCalendar(ctx context.Context, req *v1.GetCalendarRequest) (*v1.GetCalendarResponse, error) {
	if h.calendars == nil {
		return h.UnimplementedWorkflowRuntimeServiceHandler.GetCalendar(ctx, req)
	}
	c, err := h.calendars.Get(ctx, req.GetName())
	if err != nil {
		return nil, h.toConnect(ctx, err)
	}
	return &v1.GetCalendarResponse{Calendar: calendarToProto(c)}, nil
}

// ListCalendars implements WorkflowRuntimeService.
func (h *Handler) ListCalendars(ctx context.Context, req *v1.ListCalendarsRequest) (*v1.ListCalendarsResponse, error) {
	if h.calendars == nil {
		return h.UnimplementedWorkflowRuntimeServiceHandler.ListCalendars(ctx, req)
	}
	list, next, err := h.calendars.List(ctx, int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, h.toConnect(ctx, err)
	}
	resp := &v1.ListCalendarsResponse{Calendars: make([]*v1.Calendar, len(list)), NextPageToken: next}
	for i, c := range list {
		resp.Calendars[i] = calendarToProto(c)
	}
	return resp, nil
}

// weekdayFromProto maps MONDAY=1 … SUNDAY=7 to time.Weekday (Sunday 0); an undefined value
// becomes -1, which validation refuses.
func weekdayFromProto(d v1.Weekday) time.Weekday {
	switch {
	case d == v1.Weekday_WEEKDAY_SUNDAY:
		return time.Sunday
	case d >= v1.Weekday_WEEKDAY_MONDAY && d <= v1.Weekday_WEEKDAY_SATURDAY:
		return time.Weekday(d)
	default:
		return -1
	}
}

func weekdayToProto(d time.Weekday) v1.Weekday {
	if d == time.Sunday {
		return v1.Weekday_WEEKDAY_SUNDAY
	}
	return v1.Weekday(d) //nolint:gosec // 1..6
}

func calendarFromProto(p *v1.Calendar) *calendars.Calendar {
	c := &calendars.Calendar{
		Name: p.GetName(), Description: p.GetDescription(), Timezone: p.GetTimezone(),
		Holidays: p.GetHolidays(),
	}
	for _, r := range p.GetDateRanges() {
		c.DateRanges = append(c.DateRanges, calendars.DateRange{Start: r.GetStartDate(), End: r.GetEndDate()})
	}
	for _, w := range p.GetWeeklyWindows() {
		ww := calendars.WeeklyWindow{Start: w.GetStartTime(), End: w.GetEndTime()}
		for _, d := range w.GetDays() {
			ww.Days = append(ww.Days, weekdayFromProto(d))
		}
		c.WeeklyWindows = append(c.WeeklyWindows, ww)
	}
	return c
}

func calendarToProto(c *calendars.Calendar) *v1.Calendar {
	p := &v1.Calendar{
		Name: c.Name, Description: c.Description, Timezone: c.Timezone, Holidays: c.Holidays,
		CreateTime: timestampOrNil(c.CreatedAt), UpdateTime: timestampOrNil(c.UpdatedAt),
	}
	for _, r := range c.DateRanges {
		p.DateRanges = append(p.DateRanges, &v1.DateRange{StartDate: r.Start, EndDate: r.End})
	}
	for _, w := range c.WeeklyWindows {
		pw := &v1.WeeklyWindow{StartTime: w.Start, EndTime: w.End}
		for _, d := range w.Days {
			pw.Days = append(pw.Days, weekdayToProto(d))
		}
		p.WeeklyWindows = append(p.WeeklyWindows, pw)
	}
	return p
}

// blackoutFromProto sets the blackout fields of a domain cron schedule from the proto's;
// field is the schedule's path in the request ("triggers[0].cron").
func blackoutFromProto(v *errdefs.ValidationError, field string, p *v1.CronSchedule, c *deployments.CronSchedule) {
	c.BlackoutCalendars = p.GetBlackoutCalendars()
	c.AfterBlackout = afterBlackoutEnum.domain(v, field+".after_blackout", p.GetAfterBlackout())
}

// blackoutToProto sets the proto's blackout fields from a domain cron schedule.
func blackoutToProto(c *deployments.CronSchedule, p *v1.CronSchedule) {
	p.BlackoutCalendars = c.BlackoutCalendars
	p.AfterBlackout = afterBlackoutEnum.proto(c.AfterBlackout)
}

// blackoutWarnings are DeployWorkflow's "blackout.covers_all" warnings: cron triggers whose
// calendars cover every fire of the coming year.
func (h *Handler) blackoutWarnings(ctx context.Context, d *deployments.Deployment) ([]*v1.DeployWarning, error) {
	if h.scheduler == nil {
		return nil, nil
	}
	silenced, err := h.scheduler.Silenced(ctx, d)
	if err != nil {
		return nil, err
	}
	out := make([]*v1.DeployWarning, 0, len(silenced))
	for _, s := range silenced {
		out = append(out, &v1.DeployWarning{
			Field: fmt.Sprintf("triggers[%d].cron.blackout_calendars", s.Index),
			Id:    "blackout.covers_all",
			Message: fmt.Sprintf("the blackout calendars %s cover every fire of trigger %q in the coming year: it will never run",
				strings.Join(s.Calendars, ", "), s.TriggerID),
		})
	}
	return out, nil
}
