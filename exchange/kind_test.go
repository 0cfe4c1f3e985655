package exchange

import (
	"errors"
	"testing"

	"github.com/warrenmq/warren/protocol"
)

func TestParseKind(t *testing.T) {
	tests := []struct {
		in   string
		want Kind
		text string // error text, "" for none
	}{
		{"direct", Direct, ""},
		{"fanout", Fanout, ""},
		{"topic", Topic, ""},
		{"headers", Headers, ""},
		{"Direct", 0, "PRECONDITION_FAILED - unknown exchange type 'Direct'"},
		{"badtype", 0, "PRECONDITION_FAILED - unknown exchange type 'badtype'"},
		{"", 0, "PRECONDITION_FAILED - unknown exchange type ''"},
		{"x-consistent-hash", 0, "PRECONDITION_FAILED - unknown exchange type 'x-consistent-hash'"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseKind(tt.in)
			if tt.text == "" {
				if err != nil || got != tt.want || got.String() != tt.in {
					t.Fatalf("ParseKind(%q) = %v, %v", tt.in, got, err)
				}
				return
			}
			var pe *protocol.Error
			if !errors.As(err, &pe) || pe.Code != protocol.PreconditionFailed || pe.Text != tt.text {
				t.Fatalf("ParseKind(%q) error %v, want 406 %q", tt.in, err, tt.text)
			}
		})
	}
}

func TestAlternateArg(t *testing.T) {
	tests := []struct {
		name string
		args protocol.Table
		want string
		text string
	}{
		{"none", nil, "", ""},
		{"other args", protocol.Table{"x-foo": int32(1)}, "", ""},
		{"string", protocol.Table{"alternate-exchange": "ae"}, "ae", ""},
		{"integer", protocol.Table{"alternate-exchange": int32(5)},
			"", "PRECONDITION_FAILED - invalid type 'signedint' for arg 'alternate-exchange' in exchange 'x' in vhost '/'"},
		{"bytes", protocol.Table{"alternate-exchange": []byte("ae")},
			"", "PRECONDITION_FAILED - invalid type 'binary' for arg 'alternate-exchange' in exchange 'x' in vhost '/'"},
		{"void", protocol.Table{"alternate-exchange": nil},
			"", "PRECONDITION_FAILED - invalid type 'void' for arg 'alternate-exchange' in exchange 'x' in vhost '/'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AlternateArg("/", "x", tt.args)
			if tt.text == "" {
				if err != nil || got != tt.want {
					t.Fatalf("got %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			var pe *protocol.Error
			if !errors.As(err, &pe) || pe.Code != protocol.PreconditionFailed || pe.Text != tt.text {
				t.Fatalf("got %v, want 406 %q", err, tt.text)
			}
		})
	}
}
