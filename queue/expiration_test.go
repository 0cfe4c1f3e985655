package queue

import (
	"errors"
	"testing"

	"github.com/warrenmq/warren/protocol"
)

func TestParseExpiration(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  string
	}{
		{in: "0", want: 0},
		{in: "60000", want: 60000},
		{in: "+5", want: 5},
		{in: "007", want: 7},
		{in: "4294967296", want: 4294967296},
		{in: "315360000000", want: 315360000000},
		{in: "-0", want: 0},
		{in: "-1", err: "PRECONDITION_FAILED - invalid expiration '-1': {value_negative,-1}"},
		{in: "315360000001", err: "PRECONDITION_FAILED - invalid expiration '315360000001': {value_too_large,315360000001}"},
		{in: "99999999999999999999999", err: "PRECONDITION_FAILED - invalid expiration '99999999999999999999999': {value_too_large,99999999999999999999999}"},
		{in: "abc", err: "PRECONDITION_FAILED - invalid expiration 'abc': no_integer"},
		{in: "", err: "PRECONDITION_FAILED - invalid expiration '': no_integer"},
		{in: " 5", err: "PRECONDITION_FAILED - invalid expiration ' 5': no_integer"},
		{in: "10s", err: `PRECONDITION_FAILED - invalid expiration '10s': {leftover_string,"s"}`},
		{in: "1.5", err: `PRECONDITION_FAILED - invalid expiration '1.5': {leftover_string,".5"}`},
	}
	for _, tt := range tests {
		got, err := ParseExpiration(tt.in)
		if tt.err == "" {
			if err != nil || got != tt.want {
				t.Errorf("ParseExpiration(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
			continue
		}
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.Code != protocol.PreconditionFailed || pe.Text != tt.err {
			t.Errorf("ParseExpiration(%q) error = %v, want %q", tt.in, err, tt.err)
		}
	}
}

func BenchmarkExpirationTTL(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if expirationTTL("60000") != 60000 {
			b.Fatal("wrong")
		}
	}
}
