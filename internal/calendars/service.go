package calendars

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/errdefs"
	"github.com/workflow-runtime/workflow-runtime/internal/pagetoken"
)

// Store is what the calendar service needs from storage. internal/store implements it for
// PostgreSQL and SQLite.
type Store interface {
	// CalendarInsert stores a new calendar; errdefs.ErrAlreadyExists when the name is taken.
	CalendarInsert(ctx context.Context, c *Calendar) error
	// CalendarUpdate replaces the calendar of c.Name (all but CreatedAt); errdefs.ErrNotFound
	// when there is none.
	CalendarUpdate(ctx context.Context, c *Calendar) error
	// CalendarDelete deletes a calendar; errdefs.ErrNotFound when there is none,
	// errdefs.ErrFailedPrecondition when a cron trigger names it.
	CalendarDelete(ctx context.Context, name string) error
	// CalendarGet returns one calendar; errdefs.ErrNotFound when there is none.
	CalendarGet(ctx context.Context, name string) (*Calendar, error)
	// CalendarList returns up to limit calendars whose name is after after, by name.
	CalendarList(ctx context.Context, after string, limit int) ([]*Calendar, error)
	// CalendarUsers returns the workflow ids whose cron triggers name the calendar (at most
	// limit): those of deployments that are not archived, since archiving deletes triggers.
	CalendarUsers(ctx context.Context, name string, limit int) ([]string, error)
}

// ServiceConfig configures a Service. Every field has a default.
type ServiceConfig struct {
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// PageTokens signs List's page tokens. Default pagetoken.New(nil), the development key.
	PageTokens *pagetoken.Codec
	// OnChange is called with the calendar's name after each committed Create, Update and
	// Delete (schedulers refresh their calendars). Default: none.
	OnChange func(ctx context.Context, name string)
}

// Service is the CRUD of blackout calendars.
type Service struct {
	store Store
	cfg   ServiceConfig
}

// NewService returns a Service over store.
func NewService(store Store, cfg ServiceConfig) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PageTokens == nil {
		cfg.PageTokens = pagetoken.New(nil)
	}
	return &Service{store: store, cfg: cfg}
}

// validate normalizes c and checks it at the request field "calendar".
func validate(c *Calendar) (*Calendar, error) {
	n := c.Normalize()
	v := &errdefs.ValidationError{}
	n.Validate(v, "calendar")
	if err := v.OrNil(); err != nil {
		return nil, err
	}
	return &n, nil
}

// Create stores a new calendar. errdefs.ErrAlreadyExists when its name is taken.
func (s *Service) Create(ctx context.Context, c *Calendar) (*Calendar, error) {
	n, err := validate(c)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now().UTC()
	n.CreatedAt, n.UpdatedAt = now, now
	if err := s.store.CalendarInsert(ctx, n); err != nil {
		return nil, err // says "insert calendar <name>" or that it exists already
	}
	s.changed(ctx, n.Name)
	return n, nil
}

// Update replaces the calendar of the same name whole. errdefs.ErrNotFound when there is none.
// The triggers that name it follow at once (the schedulers are told through OnChange).
func (s *Service) Update(ctx context.Context, c *Calendar) (*Calendar, error) {
	n, err := validate(c)
	if err != nil {
		return nil, err
	}
	n.UpdatedAt = s.cfg.Now().UTC()
	if err := s.store.CalendarUpdate(ctx, n); err != nil {
		return nil, err // says "update calendar <name>"
	}
	got, err := s.store.CalendarGet(ctx, n.Name)
	if err != nil {
		return nil, fmt.Errorf("update calendar %s: %w", n.Name, err)
	}
	s.changed(ctx, n.Name)
	return got, nil
}

// Delete removes a calendar. errdefs.ErrFailedPrecondition while a cron trigger of a deployment
// that is not archived names it; errdefs.ErrNotFound when there is none.
func (s *Service) Delete(ctx context.Context, name string) error {
	users, err := s.store.CalendarUsers(ctx, name, 5)
	if err != nil {
		return fmt.Errorf("delete calendar %s: %w", name, err)
	}
	if len(users) > 0 {
		return fmt.Errorf("delete calendar %s: cron triggers of workflows %s name it; remove it from their blackout_calendars or delete those deployments first: %w",
			name, strings.Join(users, ", "), errdefs.ErrFailedPrecondition)
	}
	if err := s.store.CalendarDelete(ctx, name); err != nil {
		return err // says "delete calendar <name>"
	}
	s.changed(ctx, name)
	return nil
}

// Get returns one calendar.
func (s *Service) Get(ctx context.Context, name string) (*Calendar, error) {
	return s.store.CalendarGet(ctx, name) // its errors say "get calendar <name>"
}

// Page sizes of List.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// listTokenKind names List's tokens for internal/pagetoken.
const listTokenKind = "calendars.list"

type listCursor struct {
	After string `json:"a"`
}

// List returns one page of calendars by name and the token of the next page ("" on the last).
func (s *Service) List(ctx context.Context, pageSize int, pageToken string) ([]*Calendar, string, error) {
	size := pageSize
	if size <= 0 {
		size = DefaultPageSize
	}
	size = min(size, MaxPageSize)
	after := ""
	if pageToken != "" {
		var c listCursor
		if err := s.cfg.PageTokens.Decode(pageToken, listTokenKind, nil, &c); err != nil {
			return nil, "", err
		}
		if c.After == "" {
			return nil, "", pagetoken.Invalid()
		}
		after = c.After
	}
	list, err := s.store.CalendarList(ctx, after, size+1)
	if err != nil {
		return nil, "", fmt.Errorf("list calendars: %w", err)
	}
	next := ""
	if len(list) > size {
		list = list[:size]
		if next, err = s.cfg.PageTokens.Encode(listTokenKind, nil, listCursor{After: list[size-1].Name}); err != nil {
			return nil, "", err
		}
	}
	return list, next, nil
}

func (s *Service) changed(ctx context.Context, name string) {
	if s.cfg.OnChange != nil {
		s.cfg.OnChange(ctx, name)
	}
}
