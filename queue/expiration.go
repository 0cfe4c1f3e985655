package queue

import (
	"strconv"
	"strings"

	"github.com/warrenmq/warren/protocol"
)

// ParseExpiration parses a message's expiration property, a TTL in
// milliseconds, as RabbitMQ does (rabbit_basic:parse_expiration/1): an
// optional sign and decimal digits, nothing else, between 0 and ten years
// (315360000000). The error is the PRECONDITION_FAILED exception RabbitMQ
// closes the channel with, such as "invalid expiration '-1':
// {value_negative,-1}".
func ParseExpiration(s string) (ms int64, err error) {
	ms, reason := parseExpiration(s)
	if reason != "" {
		return 0, protocol.NewError(protocol.PreconditionFailed, "invalid expiration '%s': %s", s, reason)
	}
	return ms, nil
}

// expirationTTL returns the TTL an expiration property asks for, or -1 when
// it is absent or unusable. It does not allocate.
func expirationTTL(s string) int64 {
	if s == "" {
		return -1
	}
	ms, reason := parseExpiration(s)
	if reason != "" {
		return -1
	}
	return ms
}

// parseExpiration returns the value of s, or the Erlang term RabbitMQ gives
// as the reason s is not one.
func parseExpiration(s string) (int64, string) {
	i := 0
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == start {
		return 0, "no_integer"
	}
	if i < len(s) {
		return 0, "{leftover_string," + erlString(s[i:]) + "}"
	}
	digits := strings.TrimLeft(s[start:i], "0")
	if digits == "" {
		return 0, ""
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	tooBig := err != nil || n > maxExpiry
	switch {
	case neg:
		return 0, "{value_negative,-" + digits + "}"
	case tooBig:
		return 0, "{value_too_large," + digits + "}"
	}
	return n, ""
}

// erlString formats s as ~tp prints an Erlang string.
func erlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
