package monitoring

import (
	"cmp"
	"log/slog"
	"time"

	"github.com/workflow-runtime/workflow-runtime/internal/pagetoken"
)

// ServiceConfig tunes a Service. Every zero value means the stated default.
type ServiceConfig struct {
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// MaxProjectedTimes caps the cron times LoadDistribution computes (summed over the distinct
	// schedules); a projection that needs more fails with errdefs.ErrFailedPrecondition.
	// Default 2,000,000.
	MaxProjectedTimes int
	// Logger reports triggers that cannot be projected. Default slog.Default().
	Logger *slog.Logger
	// PageTokens signs History's page tokens. Default pagetoken.New(nil), the development key:
	// the app passes the one built from WFR_PAGE_TOKEN_KEY.
	PageTokens *pagetoken.Codec
	// Calendars reads the blackout calendars the load projection leaves covered fires out by.
	// Default nil: no fire is left out.
	Calendars CalendarReader
}

// Service answers the monitoring RPCs.
type Service struct {
	store             Store
	now               func() time.Time
	maxProjectedTimes int
	logger            *slog.Logger
	tokens            *pagetoken.Codec
	calendars         CalendarReader
}

// NewService returns a Service over store.
func NewService(store Store, cfg ServiceConfig) *Service {
	s := &Service{
		store:             store,
		now:               cfg.Now,
		maxProjectedTimes: cmp.Or(cfg.MaxProjectedTimes, 2_000_000),
		logger:            cfg.Logger,
		tokens:            cfg.PageTokens,
		calendars:         cfg.Calendars,
	}
	if s.tokens == nil {
		s.tokens = pagetoken.New(nil)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	return s
}
