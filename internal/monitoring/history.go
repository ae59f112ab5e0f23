package monitoring

import (
	"context"
	"fmt"

	"github.com/workflow-runtime/workflow-runtime/internal/execution"
)

// Page sizes of History.
const (
	DefaultHistoryPageSize = 50
	MaxHistoryPageSize     = 1000
)

// HistoryQuery is a request for one page of execution history.
type HistoryQuery struct {
	HistoryFilter
	// PageSize is the most executions returned. Default DefaultHistoryPageSize; at most
	// MaxHistoryPageSize (larger values are capped).
	PageSize int
	// PageToken is the previous page's NextPageToken; "" for the first page.
	PageToken string
}

// HistoryPage is one page of History.
type HistoryPage struct {
	// Executions newest first, by (created_at, id).
	Executions []*execution.Execution
	// NextPageToken reads the next page; "" on the last page.
	NextPageToken string
}

// History returns one page of the executions selected by q, newest first. A PageToken made for
// other filters, or altered, is an errdefs.ValidationError on page_token.
func (s *Service) History(ctx context.Context, q *HistoryQuery) (*HistoryPage, error) {
	size := q.PageSize
	if size <= 0 {
		size = DefaultHistoryPageSize
	}
	size = min(size, MaxHistoryPageSize)
	p := &HistoryListParams{HistoryFilter: q.HistoryFilter, Limit: size + 1}
	if q.PageToken != "" {
		after, err := s.decodeToken(&q.HistoryFilter, q.PageToken)
		if err != nil {
			return nil, err
		}
		p.After = after
	}
	rows, err := s.store.ExecutionHistoryList(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("execution history: %w", err)
	}
	page := &HistoryPage{}
	if len(rows) > size {
		rows = rows[:size]
		last := rows[size-1]
		if page.NextPageToken, err = s.encodeToken(&q.HistoryFilter, Position{CreatedAt: last.CreatedAt, ID: last.ID}); err != nil {
			return nil, err
		}
	}
	page.Executions = rows
	return page, nil
}
