package monitoring

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/workflow-runtime/workflow-runtime/server/apperr"
)

// tokenVersion is the first byte of every page token; a change of layout takes a new one.
const tokenVersion = 1

const tokenLen = 1 + 8 + 16 + 8 + 4

// encodeToken returns the page token of the position after last, for filter f (see doc.go).
func encodeToken(f *HistoryFilter, last Position) string {
	id, err := uuid.Parse(last.ID)
	if err != nil {
		// ids are UUIDs in both dialects; a row that is not cannot be paged after.
		return ""
	}
	b := make([]byte, 0, tokenLen)
	b = append(b, tokenVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(last.CreatedAt.UnixMicro()))
	b = append(b, id[:]...)
	fh := filterHash(f)
	b = append(b, fh[:]...)
	sum := sha256.Sum256(b)
	b = append(b, sum[:4]...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeToken returns the position in token, which must have been made for filter f. Any
// failure is an apperr.ValidationError on page_token.
func decodeToken(f *HistoryFilter, token string) (Position, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) != tokenLen || b[0] != tokenVersion {
		return Position{}, invalidToken("page_token is malformed")
	}
	sum := sha256.Sum256(b[:tokenLen-4])
	if string(sum[:4]) != string(b[tokenLen-4:]) {
		return Position{}, invalidToken("page_token is malformed")
	}
	fh := filterHash(f)
	if string(fh[:]) != string(b[25:33]) {
		return Position{}, invalidToken("page_token was issued for other filters")
	}
	id, err := uuid.FromBytes(b[9:25])
	if err != nil {
		return Position{}, invalidToken("page_token is malformed")
	}
	return Position{
		CreatedAt: time.UnixMicro(int64(binary.BigEndian.Uint64(b[1:9]))).UTC(),
		ID:        id.String(),
	}, nil
}

func invalidToken(msg string) error {
	return apperr.Invalid("page_token", "page_token.valid", "%s", msg)
}

// filterHash is the first 8 bytes of the SHA-256 of the filter's canonical form: the lists
// sorted (their order does not change the result), the times in Unix microseconds.
func filterHash(f *HistoryFilter) [8]byte {
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
		"d=" + f.DeploymentID,
		"w=" + f.WorkflowID,
		"s=" + strings.Join(statuses, ","),
		"t=" + strings.Join(types, ","),
		"from=" + microOrEmpty(f.Start),
		"to=" + microOrEmpty(f.End),
	}
	sum := sha256.Sum256([]byte(strings.Join(parts, "\n")))
	var out [8]byte
	copy(out[:], sum[:8])
	return out
}

func microOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatInt(t.UnixMicro(), 10)
}
