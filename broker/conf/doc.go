// Package conf parses a configuration file in the format of RabbitMQ's
// rabbitmq.conf (the "sysctl" format of cuttlefish) into a typed Config.
//
// A file is lines of `key = value`, `#` comments and blank lines. A key is
// dotted words of letters, digits, `_` and `-` (`\.` is a dot inside a
// word); a value runs to the end of the line or to a `#`, with spaces
// around it dropped, or is quoted with single quotes to keep a `#` or
// spaces. A key given twice keeps its last value, as in cuttlefish.
//
// Parse knows RabbitMQ's keys that Warren implements (keys.go, with
// RabbitMQ's names, value forms and ranges; the management API's
// HTTPS listener, management.ssl.*, and Warren's audit log,
// warren.audit_log.*, in keys_extra.go) and Warren's own (warren.*).
// Anything else is an error naming the file, the line and the key: a key
// RabbitMQ has but Warren does not implement says so (rabbit_keys.go),
// except a few that change nothing a client can see, which are listed in
// Config.Ignored for the caller to log. Nothing is ever silently
// defaulted.
//
// The package does no I/O: Parse reads only the bytes it is given, so it
// can be fuzzed (FuzzParse). It starts no goroutines and holds no locks;
// a Config is a plain value.
package conf
