package mgmt

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/warrenmq/warren/protocol"
)

// TestMarshalAsEncodingJSON: the list encoder writes what encoding/json
// writes, byte for byte, for objects, lists and pages with every kind
// of value the API puts in them, strings that need escaping included.
func TestMarshalAsEncodingJSON(t *testing.T) {
	q := item{"name": "q<1>&\"x\"\\", "vhost": "/", "durable": true, "auto_delete": false, "policy": nil,
		"messages": int64(-3), "ready": uint64(math.MaxUint64), "port": 5672, "number": uint16(7), "count": uint32(9),
		"rate": 1.5, "members": []string{"a", "b"}, "nested": item{"z": 1, "a": item{}}, "none": []item(nil),
		"arguments": table(protocol.Table{"x-max-length": int32(10), "x-dead-letter-exchange": "dlx"}),
		"unicode":   "café \u2028 \x01 \t", "bad utf8": "\xff", "empty": "", "null item": item(nil)}
	for _, v := range []any{
		q, []item{q, {}, {"name": "b"}}, []item{}, []item(nil), item{},
		page{TotalCount: 10000, ItemCount: 1, FilteredCount: 9, Page: 2, PageSize: 100, PageCount: 100, Items: []item{q}},
		page{Items: []item{}}, "string", 42, []string{"x"}, map[string]string{"a": "b"},
	} {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := marshal(v)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("marshal(%#v):\n got  %s (%v)\n want %s", v, got, err, want)
		}
	}
}
