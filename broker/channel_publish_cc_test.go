package broker

import (
	"errors"
	"slices"
	"testing"

	"github.com/warrenmq/warren/protocol"
)

func TestAppendKeyHeader(t *testing.T) {
	cases := []struct {
		name   string
		header string
		v      any
		want   []string
		text   string // the 406 text, "" when the header is accepted
	}{
		{"strings", "CC", []any{"a", "b"}, []string{"rk", "a", "b"}, ""},
		{"empty array", "BCC", []any{}, []string{"rk"}, ""},
		{"other elements skipped", "CC", []any{int32(1), "a", []byte("b"), protocol.Table{"c": "d"}, nil},
			[]string{"rk", "a"}, ""},
		{"string", "CC", "a", nil,
			`PRECONDITION_FAILED - invalid message: {unacceptable_type_in_header,"CC",longstr}`},
		{"integer", "BCC", int32(1), nil,
			`PRECONDITION_FAILED - invalid message: {unacceptable_type_in_header,"BCC",signedint}`},
		{"table", "CC", protocol.Table{"a": "b"}, nil,
			`PRECONDITION_FAILED - invalid message: {unacceptable_type_in_header,"CC",table}`},
		{"void", "CC", nil, nil,
			`PRECONDITION_FAILED - invalid message: {unacceptable_type_in_header,"CC",void}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := appendKeyHeader([]string{"rk"}, tc.header, tc.v)
			if tc.text == "" {
				if err != nil || !slices.Equal(keys, tc.want) {
					t.Fatalf("got %q, %v; want %q", keys, err, tc.want)
				}
				return
			}
			var pe *protocol.Error
			if !errors.As(err, &pe) || pe.Code != protocol.PreconditionFailed || pe.Text != tc.text {
				t.Fatalf("got %v, want 406 %q", err, tc.text)
			}
		})
	}
}
