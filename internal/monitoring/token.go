package monitoring

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/workflow-runtime/workflow-runtime/internal/pagetoken"
)

// historyTokenKind names History's tokens for internal/pagetoken: a token of another list does
// not read here.
const historyTokenKind = "monitoring.history"

// historyCursor is the payload of a History page token: the position of the page's last row.
type historyCursor struct {
	// CreatedAtMicros is created_at in Unix microseconds.
	CreatedAtMicros int64 `json:"t"`
	// ID is the row's UUID.
	ID string `json:"i"`
}

// encodeToken returns the page token of the position after last, for filter f (see doc.go).
func (s *Service) encodeToken(f *HistoryFilter, last Position) (string, error) {
	return s.tokens.Encode(historyTokenKind, filterBinding(f), historyCursor{CreatedAtMicros: last.CreatedAt.UnixMicro(), ID: last.ID})
}

// decodeToken returns the position in token, which must have been made by this service (same
// key) for filter f. Any failure is an errdefs.ValidationError on page_token.
func (s *Service) decodeToken(f *HistoryFilter, token string) (Position, error) {
	var c historyCursor
	if err := s.tokens.Decode(token, historyTokenKind, filterBinding(f), &c); err != nil {
		return Position{}, err
	}
	// A signed token was made by this service, but an older release may have made it: read the
	// position as strictly as a caller's input.
	id, err := uuid.Parse(c.ID)
	if err != nil || c.CreatedAtMicros < 0 || c.CreatedAtMicros > maxTimeMicros {
		return Position{}, pagetoken.Invalid()
	}
	return Position{CreatedAt: time.UnixMicro(c.CreatedAtMicros).UTC(), ID: id.String()}, nil
}

// maxTimeMicros is 9999-12-31T23:59:59.999999Z, the last instant both dialects store.
var maxTimeMicros = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC).UnixMicro()

// filterBinding is the filter's canonical form, which a token is bound to: the lists sorted and
// deduplicated (their order does not change the result), the times in Unix microseconds.
func filterBinding(f *HistoryFilter) []byte {
	statuses := make([]string, len(f.Statuses))
	for i, s := range f.Statuses {
		statuses[i] = string(s)
	}
	types := make([]string, len(f.TriggerTypes))
	for i, t := range f.TriggerTypes {
		types[i] = string(t)
	}
	slices.Sort(statuses)
	types = slices.Compact(slices.Sorted(slices.Values(types)))
	statuses = slices.Compact(statuses)
	parts := []string{
		"d=" + strconv.Quote(f.DeploymentID),
		"w=" + strconv.Quote(f.WorkflowID),
		"s=" + strings.Join(statuses, ","),
		"t=" + strings.Join(types, ","),
		"from=" + microOrEmpty(f.Start),
		"to=" + microOrEmpty(f.End),
	}
	return []byte(strings.Join(parts, "\n"))
}

func microOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatInt(t.UnixMicro(), 10)
}
