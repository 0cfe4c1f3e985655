package mgmt

import (
	"cmp"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Lists as rabbit_mgmt_util answers them: sorted (sort, sort_reverse,
// after the resource's default keys), filtered by name (name, use_regex)
// and paged (page, page_size: 100 by default, 500 at most) when page is
// given, and cut to the columns asked for (columns, dotted paths).

const (
	defaultPageSize = 100
	maxPageSize     = 500
)

// item is one element of a list, as its JSON object.
type item = map[string]any

// page is RabbitMQ's paged answer.
type page struct {
	TotalCount    int    `json:"total_count"`
	ItemCount     int    `json:"item_count"`
	FilteredCount int    `json:"filtered_count"`
	Page          int    `json:"page"`
	PageSize      int    `json:"page_size"`
	PageCount     int    `json:"page_count"`
	Items         []item `json:"items"`
}

// list answers a list with the request's sorting, filtering and paging;
// defaultSort are the resource's sort keys (RabbitMQ's: vhost, then
// name).
func list(r *request, items []item, defaultSort ...string) (reply, *apiError) {
	if items == nil {
		items = []item{}
	}
	q := r.URL.Query()
	sortItems(items, q.Get("sort"), q.Get("sort_reverse") == "true", defaultSort)
	if !q.Has("page") {
		return ok(items)
	}
	p, err := pagination(q.Get("page"), q.Get("page_size"), q.Has("page_size"))
	if err != nil {
		return reply{}, err
	}
	filtered, err := filterByName(items, q.Get("name"), q.Get("use_regex") == "true")
	if err != nil {
		return reply{}, err
	}
	p.TotalCount, p.FilteredCount = len(items), len(filtered)
	p.PageCount = (len(filtered) + p.PageSize - 1) / p.PageSize
	from := (p.Page - 1) * p.PageSize
	if from > len(filtered) {
		return reply{}, &apiError{status: http.StatusBadRequest, kind: "page_out_of_range",
			reason: fmt.Sprintf("Page out of range, page: %d page size: %d, len: %d", p.Page, p.PageSize, len(filtered))}
	}
	p.Items = filtered[from:min(from+p.PageSize, len(filtered))]
	p.ItemCount = len(p.Items)
	return ok(p)
}

// pagination reads page and page_size as pagination_params does.
func pagination(pageS, sizeS string, hasSize bool) (page, *apiError) {
	n, err1 := strconv.Atoi(pageS)
	size, err2 := defaultPageSize, error(nil)
	if hasSize {
		size, err2 = strconv.Atoi(sizeS)
	}
	if err1 != nil || err2 != nil {
		return page{}, &apiError{status: http.StatusBadRequest, kind: "bad_request", reason: "Pagination parameters are invalid"}
	}
	if n <= 0 || size <= 0 || size > maxPageSize {
		sizeText := "undefined"
		if hasSize {
			sizeText = strconv.Itoa(size)
		}
		return page{}, &apiError{status: http.StatusBadRequest, kind: "invalid_pagination_parameters",
			reason: fmt.Sprintf("Invalid pagination parameters: page number %d, page size %s", n, sizeText)}
	}
	return page{Page: n, PageSize: size}, nil
}

// filterByName keeps the items whose name contains name (case-insensitive),
// or matches it as a regular expression with use_regex.
func filterByName(items []item, name string, useRegex bool) ([]item, *apiError) {
	if name == "" {
		return items, nil
	}
	match := func(s string) bool { return strings.Contains(strings.ToLower(s), strings.ToLower(name)) }
	if useRegex {
		re, err := regexp.Compile("(?i)" + name)
		if err != nil {
			return nil, badRequest("invalid regular expression: " + err.Error())
		}
		match = re.MatchString
	}
	var out []item
	for _, it := range items {
		if s, ok := it["name"].(string); ok && match(s) {
			out = append(out, it)
		}
	}
	return out, nil
}

// sortItems sorts by the requested key then the defaults, as sort_list
// does (a key missing from an item sorts as 0, before everything else).
func sortItems(items []item, by string, reverse bool, defaults []string) {
	keys := defaults
	if by != "" {
		keys = append([]string{by}, slices.DeleteFunc(slices.Clone(defaults), func(k string) bool { return k == by })...)
	}
	paths := make([][]string, len(keys))
	for i, k := range keys {
		paths[i] = strings.Split(k, ".")
	}
	slices.SortStableFunc(items, func(a, b item) int {
		for _, p := range paths {
			if c := compareValues(valueAt(a, p), valueAt(b, p)); c != 0 {
				return c
			}
		}
		return 0
	})
	if reverse {
		slices.Reverse(items)
	}
}

// valueAt returns the value at a dotted path ("message_stats.publish")
// split at its dots; sortItems splits each key once, not at every
// comparison (which cost as much as the rest of sorting 10,000 queues).
func valueAt(it item, path []string) any {
	var v any = it
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return 0
		}
		if v, ok = m[k]; !ok {
			return 0
		}
	}
	return v
}

// compareValues orders as Erlang terms do: numbers, then atoms (booleans,
// null), then strings.
func compareValues(a, b any) int {
	ra, rb := rank(a), rank(b)
	if ra != rb {
		return cmp.Compare(ra, rb)
	}
	switch ra {
	case 0:
		return cmp.Compare(number(a), number(b))
	case 2:
		return strings.Compare(a.(string), b.(string))
	}
	return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

func rank(v any) int {
	switch v.(type) {
	case int, int64, uint64, uint32, uint16, float64:
		return 0
	case string:
		return 2
	}
	return 1
}

func number(v any) float64 {
	switch n := v.(type) {
	case int:
		return float64(n)
	case int64:
		return float64(n)
	case uint64:
		return float64(n)
	case uint32:
		return float64(n)
	case uint16:
		return float64(n)
	case float64:
		return n
	}
	return 0
}

// applyColumns cuts a reply to the request's columns (comma-separated
// dotted paths), in a list, a page's items or a single object.
func applyColumns(r *http.Request, body any) any {
	cs := r.URL.Query().Get("columns")
	if cs == "" {
		return body
	}
	var cols [][]string
	for _, c := range strings.Split(cs, ",") {
		if c != "" {
			cols = append(cols, strings.Split(c, "."))
		}
	}
	switch v := body.(type) {
	case []item:
		out := make([]item, len(v))
		for i, it := range v {
			out[i] = pick(it, cols)
		}
		return out
	case page:
		v.Items = applyColumns(r, v.Items).([]item)
		return v
	case item:
		return pick(v, cols)
	}
	return body
}

// pick keeps the columns of an object, descending into nested ones.
func pick(it item, cols [][]string) item {
	out := item{}
	for k, v := range it {
		var sub [][]string
		want, whole := false, false
		for _, c := range cols {
			if c[0] != k {
				continue
			}
			want = true
			if len(c) == 1 {
				whole = true
			} else {
				sub = append(sub, c[1:])
			}
		}
		if !want {
			continue
		}
		if m, ok := v.(map[string]any); ok && !whole {
			out[k] = pick(m, sub)
		} else {
			out[k] = v
		}
	}
	return out
}
