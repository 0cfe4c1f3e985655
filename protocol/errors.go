package protocol

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxErrorText is the longest reply text AMQP can carry: a short string.
const maxErrorText = 255

// Error is an AMQP exception: the reply code, the reply text (already
// prefixed with RabbitMQ's name for the code, such as "NOT_FOUND - ...") and
// the class and method ids of the method that caused it, as sent in
// channel.close or connection.close.
type Error struct {
	Code     uint16
	Text     string
	ClassID  uint16
	MethodID uint16
}

// NewError returns an exception with the given reply code whose text is the
// RabbitMQ name of the code, " - ", and the formatted message, truncated to
// 255 bytes (on a UTF-8 boundary), e.g.
// NewError(NotFound, "no queue '%s' in vhost '%s'", "q", "/").Text is
// "NOT_FOUND - no queue 'q' in vhost '/'".
func NewError(code uint16, format string, args ...any) *Error {
	msg := format
	if len(args) > 0 || strings.IndexByte(format, '%') >= 0 {
		msg = fmt.Sprintf(format, args...)
	}
	name := ReplyName(code)
	if name == "" {
		name = "UNKNOWN"
	}
	return &Error{Code: code, Text: truncateText(name + " - " + msg)}
}

// truncateText cuts s to at most maxErrorText bytes without splitting a
// UTF-8 sequence.
func truncateText(s string) string {
	if len(s) <= maxErrorText {
		return s
	}
	n := maxErrorText
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Error returns the reply text.
func (e *Error) Error() string {
	return e.Text
}

// Hard reports whether the exception closes the connection (a hard error in
// the specification) rather than only the channel.
func (e *Error) Hard() bool {
	return e != nil && IsHardError(e.Code)
}

// For returns a copy of e naming m as the method that caused it. It returns
// nil when e is nil, and a plain copy when m is nil.
func (e *Error) For(m Method) *Error {
	if e == nil {
		return nil
	}
	c := *e
	if m != nil {
		c.ClassID = m.ClassID()
		c.MethodID = m.MethodID()
	}
	return &c
}

// ConnectionClose returns the connection.close method that reports e.
func (e *Error) ConnectionClose() *ConnectionClose {
	return &ConnectionClose{ReplyCode: e.Code, ReplyText: e.Text, FailingClassID: e.ClassID, FailingMethodID: e.MethodID}
}

// ChannelClose returns the channel.close method that reports e.
func (e *Error) ChannelClose() *ChannelClose {
	return &ChannelClose{ReplyCode: e.Code, ReplyText: e.Text, FailingClassID: e.ClassID, FailingMethodID: e.MethodID}
}
