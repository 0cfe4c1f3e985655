package protocol

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNewError(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
		code uint16
		text string
		hard bool
	}{
		{"not found", NewError(NotFound, "no queue '%s' in vhost '%s'", "q", "/"), NotFound, "NOT_FOUND - no queue 'q' in vhost '/'", false},
		{"precondition", NewError(PreconditionFailed, "unknown delivery tag %d", 7), PreconditionFailed, "PRECONDITION_FAILED - unknown delivery tag 7", false},
		{"access refused", NewError(AccessRefused, "login refused"), AccessRefused, "ACCESS_REFUSED - login refused", false},
		{"resource locked", NewError(ResourceLocked, "cannot obtain exclusive access to locked queue 'q' in vhost '/'"), ResourceLocked, "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'q' in vhost '/'", false},
		{"percent without args", NewError(NotAllowed, "100%% sure"), NotAllowed, "NOT_ALLOWED - 100% sure", true},
		{"channel error", NewError(ChannelError, "expected 'channel.open'"), ChannelError, "CHANNEL_ERROR - expected 'channel.open'", true},
		{"internal", NewError(InternalError, "boom"), InternalError, "INTERNAL_ERROR - boom", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err.Code != tt.code || tt.err.Text != tt.text || tt.err.Error() != tt.text || tt.err.Hard() != tt.hard {
				t.Fatalf("got %+v hard=%v", tt.err, tt.err.Hard())
			}
		})
	}
}

func TestNewErrorTruncates(t *testing.T) {
	e := NewError(NotFound, "no queue '%s'", strings.Repeat("é", 200))
	if len(e.Text) > 255 || !utf8.ValidString(e.Text) || !strings.HasPrefix(e.Text, "NOT_FOUND - no queue 'é") {
		t.Fatalf("len %d valid %v: %q", len(e.Text), utf8.ValidString(e.Text), e.Text)
	}
}

func TestReplyNameAndHardness(t *testing.T) {
	tests := []struct {
		code uint16
		name string
		hard bool
	}{
		{ReplySuccess, "REPLY_SUCCESS", false},
		{ContentTooLarge, "CONTENT_TOO_LARGE", false},
		{NoRoute, "NO_ROUTE", false},
		{NoConsumers, "NO_CONSUMERS", false},
		{AccessRefused, "ACCESS_REFUSED", false},
		{NotFound, "NOT_FOUND", false},
		{ResourceLocked, "RESOURCE_LOCKED", false},
		{PreconditionFailed, "PRECONDITION_FAILED", false},
		{ConnectionForced, "CONNECTION_FORCED", true},
		{InvalidPath, "INVALID_PATH", true},
		{FrameError, "FRAME_ERROR", true},
		{SyntaxError, "SYNTAX_ERROR", true},
		{CommandInvalid, "COMMAND_INVALID", true},
		{ChannelError, "CHANNEL_ERROR", true},
		{UnexpectedFrame, "UNEXPECTED_FRAME", true},
		{ResourceError, "RESOURCE_ERROR", true},
		{NotAllowed, "NOT_ALLOWED", true},
		{NotImplemented, "NOT_IMPLEMENTED", true},
		{InternalError, "INTERNAL_ERROR", true},
		{999, "", false},
	}
	for _, tt := range tests {
		if ReplyName(tt.code) != tt.name || IsHardError(tt.code) != tt.hard {
			t.Errorf("%d: name %q hard %v", tt.code, ReplyName(tt.code), IsHardError(tt.code))
		}
	}
}

func TestErrorFor(t *testing.T) {
	var nilErr *Error
	if nilErr.For(&BasicPublish{}) != nil {
		t.Fatal("nil.For must be nil")
	}
	base := NewError(NotFound, "no exchange 'x' in vhost '/'")
	e := base.For(&BasicPublish{})
	if e == base || e.ClassID != ClassBasic || e.MethodID != 40 || base.ClassID != 0 || e.Text != base.Text {
		t.Fatalf("For: %+v (base %+v)", e, base)
	}
	if c := base.For(nil); c == base || *c != *base {
		t.Fatalf("For(nil): %+v", c)
	}
	cc := e.ChannelClose()
	if cc.ReplyCode != NotFound || cc.ReplyText != e.Text || cc.FailingClassID != ClassBasic || cc.FailingMethodID != 40 {
		t.Fatalf("ChannelClose: %+v", cc)
	}
	if c := e.ConnectionClose(); c.ReplyCode != NotFound || c.FailingMethodID != 40 {
		t.Fatalf("ConnectionClose: %+v", c)
	}
}
