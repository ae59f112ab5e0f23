package app

import (
	"context"
	"log/slog"

	"github.com/workflow-runtime/workflow-runtime/internal/calendars"
	"github.com/workflow-runtime/workflow-runtime/internal/scheduler"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
)

// calendarService returns the blackout calendar service over db; its changes reach every
// scheduler through the notifier.
func (a *App) calendarService(db *store.DB) *calendars.Service {
	return calendars.NewService(db, calendars.ServiceConfig{
		PageTokens: a.pageTokens(),
		OnChange:   a.publishCalendarChange,
	})
}

// publishCalendarChange tells every scheduler that a calendar changed. A lost notification
// costs at most one resync interval.
func (a *App) publishCalendarChange(ctx context.Context, name string) {
	if err := a.backends.notifier.Publish(ctx, scheduler.CalendarsChangedChannel, name); err != nil {
		a.logger.WarnContext(ctx, "calendar change notification failed; schedulers learn of it at their next resync",
			slog.String("calendar", name), slog.Any("error", err))
	}
}
