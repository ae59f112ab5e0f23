package engine

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// The size bounds of outputs are checked by walking the value before it is converted or encoded,
// so no output larger than its cap is ever materialised as JSON. Each walk returns an upper bound
// of the value's encoded size (encoding/json's escaping, numbers at their longest) and stops
// counting as soon as the running total passes limit, so a walk over a value with a million shared
// elements costs no more than the limit allows.

// maxNumberJSON is the longest JSON text of a float64 as encoding/json writes it
// (-1.2345678901234567e-308).
const maxNumberJSON = 24

// jsonSize returns an upper bound of len(json.Marshal(v)) for v, a node output (nil, bool,
// float64, string, []any, map[string]any), or a number larger than limit once it passes limit.
func jsonSize(v any, limit int64) int64 {
	switch v := v.(type) {
	case nil:
		return 4
	case bool:
		return 5
	case float64, int, int64, json.Number:
		return maxNumberJSON
	case string:
		return stringJSONSize(v)
	case []any:
		total := int64(2 + max(len(v)-1, 0))
		for _, e := range v {
			if total > limit {
				break
			}
			total += jsonSize(e, limit-total)
		}
		return total
	case map[string]any:
		total := int64(2 + max(len(v)-1, 0))
		for k, e := range v {
			if total > limit {
				break
			}
			total += stringJSONSize(k) + 1 + jsonSize(e, limit-total)
		}
		return total
	default:
		// Not a type a node outputs today; measure it the slow way rather than guess.
		b, err := json.Marshal(v)
		if err != nil {
			return limit + 1
		}
		return int64(len(b))
	}
}

// stringJSONSize is the length of s as a JSON string with encoding/json's escaping: quotes,
// two-byte escapes for " \ \n \r \t, six bytes for other control characters, <, >, &, U+2028,
// U+2029 and each invalid byte (written as \ufffd).
func stringJSONSize(s string) int64 {
	n := int64(2)
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t':
				n += 2
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1, r == '\u2028', r == '\u2029':
			n += 6
		default:
			n += int64(size)
		}
		i += size
	}
	return n
}

// celJSONSize returns an upper bound of the JSON size of a CEL value (the transform result before
// it is converted), or a number larger than limit once it passes limit.
func celJSONSize(v ref.Val, limit int64) int64 {
	switch v := v.(type) {
	case types.Null:
		return 4
	case types.Bool:
		return 5
	case types.Int, types.Uint, types.Double:
		return maxNumberJSON
	case types.String:
		return stringJSONSize(string(v))
	case types.Bytes:
		return 2 + int64((len(v)+2)/3*4) // base64
	case traits.Lister:
		n := int64(v.Size().(types.Int))
		total := 2 + max(n-1, 0)
		for i := int64(0); i < n && total <= limit; i++ {
			total += celJSONSize(v.Get(types.Int(i)), limit-total)
		}
		return total
	case traits.Mapper:
		total := 2 + max(int64(v.Size().(types.Int))-1, 0)
		for it := v.Iterator(); it.HasNext() == types.True && total <= limit; {
			k := it.Next()
			total += celJSONSize(k, limit-total) + 3 + celJSONSize(v.Get(k), limit-total) // keys quoted
		}
		return total
	default:
		// Timestamps, durations and anything else convert to short strings.
		return int64(len(fmt.Sprint(v.Value()))) * 6
	}
}
