package mgmt

import (
	"encoding/json"
	"slices"
	"strconv"
)

// marshal encodes a reply's body exactly as encoding/json does, faster
// for the lists: encoding/json spends most of a list of 10,000 queues
// sorting each object's keys through reflection and encoding its values
// through interfaces. Objects (item) and their common values are
// written here; anything else goes to encoding/json.
func marshal(v any) ([]byte, error) {
	return appendValue(make([]byte, 0, 4096), v)
}

func appendValue(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return appendString(dst, x)
	case bool:
		return strconv.AppendBool(dst, x), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), nil
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint16:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case item:
		if x == nil {
			return append(dst, "null"...), nil
		}
		return appendItem(dst, x)
	case []item:
		if x == nil {
			return append(dst, "null"...), nil
		}
		return appendItems(dst, x)
	case page:
		return appendPage(dst, x)
	}
	b, err := json.Marshal(v)
	return append(dst, b...), err
}

// appendItem writes an object with its keys sorted, as encoding/json
// writes a map.
func appendItem(dst []byte, it item) ([]byte, error) {
	var buf [32]string
	keys := buf[:0]
	for k := range it {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	var err error
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		if dst, err = appendString(dst, k); err != nil {
			return dst, err
		}
		dst = append(dst, ':')
		if dst, err = appendValue(dst, it[k]); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

func appendItems(dst []byte, items []item) ([]byte, error) {
	dst = append(dst, '[')
	var err error
	for i, it := range items {
		if i > 0 {
			dst = append(dst, ',')
		}
		if dst, err = appendValue(dst, it); err != nil {
			return dst, err
		}
	}
	return append(dst, ']'), nil
}

// appendPage writes a page with its fields in declaration order, as
// encoding/json writes a struct.
func appendPage(dst []byte, p page) ([]byte, error) {
	for _, f := range []struct {
		key string
		n   int
	}{{`{"total_count":`, p.TotalCount}, {`,"item_count":`, p.ItemCount}, {`,"filtered_count":`, p.FilteredCount},
		{`,"page":`, p.Page}, {`,"page_size":`, p.PageSize}, {`,"page_count":`, p.PageCount}} {
		dst = strconv.AppendInt(append(dst, f.key...), int64(f.n), 10)
	}
	dst, err := appendValue(append(dst, `,"items":`...), p.Items)
	return append(dst, '}'), err
}

// appendString writes s quoted; one with anything encoding/json escapes
// (quotes, backslashes, control characters, <, >, &, non-ASCII) is left
// to encoding/json.
func appendString(dst []byte, s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, err := json.Marshal(s)
			return append(dst, b...), err
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"'), nil
}
