package calendars_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/workflow-runtime/workflow-runtime/internal/calendars"
	"github.com/workflow-runtime/workflow-runtime/internal/deployments"
	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/pagetoken"
	"github.com/workflow-runtime/workflow-runtime/internal/store"
	"github.com/workflow-runtime/workflow-runtime/internal/store/storetest"
)

func TestService(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]func(testing.TB) *store.DB{"sqlite": storetest.OpenSQLite, "postgres": storetest.OpenPostgres} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			ctx := context.Background()
			db := open(t)
			now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
			var changed []string
			svc := calendars.NewService(db, calendars.ServiceConfig{
				Now:      func() time.Time { return now },
				OnChange: func(_ context.Context, name string) { changed = append(changed, name) },
			})

			c, err := svc.Create(ctx, &calendars.Calendar{Name: "freeze", Holidays: []string{"2026-12-25"}})
			is.NoErr(err)
			is.Equal(c.Timezone, "UTC")
			is.True(c.CreatedAt.Equal(now))
			_, err = svc.Create(ctx, &calendars.Calendar{Name: "freeze"})
			is.True(errors.Is(err, errdefs.ErrAlreadyExists))
			_, err = svc.Create(ctx, &calendars.Calendar{Name: "bad", Timezone: "Nowhere/Else"})
			var ve *errdefs.ValidationError
			is.True(errors.As(err, &ve)) // invalid_argument
			is.Equal(ve.Violations[0].Field, "calendar.timezone")

			now = now.Add(time.Hour)
			u, err := svc.Update(ctx, &calendars.Calendar{Name: "freeze", Timezone: "Europe/Berlin"})
			is.NoErr(err)
			is.Equal(u.Timezone, "Europe/Berlin")
			is.Equal(len(u.Holidays), 0) // replaced whole
			is.True(u.UpdatedAt.Equal(now))
			is.True(u.CreatedAt.Before(u.UpdatedAt))
			_, err = svc.Update(ctx, &calendars.Calendar{Name: "nope"})
			is.True(errors.Is(err, errdefs.ErrNotFound))
			_, err = svc.Update(ctx, &calendars.Calendar{Name: "freeze", Holidays: []string{"2026-13-01"}})
			is.True(errors.As(err, &ve))

			for i := range 3 {
				_, err := svc.Create(ctx, &calendars.Calendar{Name: fmt.Sprintf("page-%d", i)})
				is.NoErr(err)
			}
			var names []string
			token := ""
			for range 10 {
				page, next, err := svc.List(ctx, 2, token)
				is.NoErr(err)
				for _, c := range page {
					names = append(names, c.Name)
				}
				if token = next; token == "" {
					break
				}
			}
			is.Equal(names, []string{"freeze", "page-0", "page-1", "page-2"})
			_, _, err = svc.List(ctx, 0, "not-a-token")
			is.True(err != nil)
			// Signed with the same key and binding (none) for another list, with the payload of
			// this one.
			foreign, err := pagetoken.New(nil).Encode("deployments.list", nil, map[string]string{"a": "page-0"})
			is.NoErr(err)
			_, _, err = svc.List(ctx, 2, foreign)
			is.True(errors.As(err, &ve))
			is.Equal(ve.Violations[0].Field, "page_token") // a token of another list

			// A trigger names it: Delete says which workflow, and deletes nothing.
			d := storetest.NewDeployment("uses-freeze")
			d.Triggers[0].Cron.BlackoutCalendars = []string{"freeze"}
			is.NoErr(storetest.Create(ctx, db, d))
			err = svc.Delete(ctx, "freeze")
			is.True(errors.Is(err, errdefs.ErrFailedPrecondition))
			is.True(errors.Is(svc.Delete(ctx, "nope"), errdefs.ErrNotFound))
			is.NoErr(db.InTx(ctx, func(ctx context.Context, tx deployments.Tx) error {
				d.Triggers = nil
				return tx.TriggersReplace(ctx, d)
			}))
			is.NoErr(svc.Delete(ctx, "freeze"))
			_, err = svc.Get(ctx, "freeze")
			is.True(errors.Is(err, errdefs.ErrNotFound))
			is.Equal(changed, []string{"freeze", "freeze", "page-0", "page-1", "page-2", "freeze"})
		})
	}
}
