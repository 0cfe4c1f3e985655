package conf

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxFileSize is the largest file Parse accepts, 1 MiB: a rabbitmq.conf
// is a few kilobytes, and a caller reading one checks its size first.
const MaxFileSize = 1 << 20

// Error is a problem with one line of a file: a malformed line, an
// unknown key or a bad value.
type Error struct {
	File string // the file's name as given to Parse
	Line int    // 1-based
	Key  string // empty for a line that has no key
	Msg  string
}

// Error returns "file:line: key: message".
func (e *Error) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Key, e.Msg)
}

// setting is one `key = value` line.
type setting struct {
	line  int
	key   string
	value string
}

// Parse parses data, the contents of the file called name (used in
// errors only), into a Config. The first error found is returned as an
// *Error.
func Parse(name string, data []byte) (*Config, error) {
	if len(data) > MaxFileSize {
		return nil, &Error{File: name, Line: 1, Msg: fmt.Sprintf("file is larger than %d bytes", MaxFileSize)}
	}
	settings, err := lex(name, data)
	if err != nil {
		return nil, err
	}
	c := newConfig()
	for _, s := range lastValues(settings) {
		if msg := c.set(s); msg != "" {
			return nil, &Error{File: name, Line: s.line, Key: s.key, Msg: msg}
		}
	}
	if msg, s := c.check(); msg != "" {
		return nil, &Error{File: name, Line: s.line, Key: s.key, Msg: msg}
	}
	return c, nil
}

// lex splits data into settings, dropping comments and blank lines.
func lex(name string, data []byte) ([]setting, error) {
	var out []setting
	for n, raw := range bytes.Split(data, []byte("\n")) {
		line := strings.TrimSuffix(string(raw), "\r")
		s, msg := lexLine(line)
		if msg != "" {
			return nil, &Error{File: name, Line: n + 1, Key: s.key, Msg: msg}
		}
		if s.key != "" {
			s.line = n + 1
			out = append(out, s)
		}
	}
	return out, nil
}

// lastValues keeps one setting per key: a key given again keeps its
// last value and line, in the place of its first, as cuttlefish does.
func lastValues(settings []setting) []setting {
	at := make(map[string]int, len(settings))
	out := settings[:0]
	for _, s := range settings {
		if i, ok := at[s.key]; ok {
			out[i] = s
			continue
		}
		at[s.key] = len(out)
		out = append(out, s)
	}
	return out
}

// lexLine parses one line. It returns a setting with an empty key for a
// blank or comment line, or a message saying what is wrong.
func lexLine(line string) (setting, string) {
	if !utf8.ValidString(line) {
		return setting{}, "line is not valid UTF-8"
	}
	rest := strings.TrimLeft(line, " \t")
	if rest == "" || rest[0] == '#' {
		return setting{}, ""
	}
	key, value, ok := strings.Cut(rest, "=")
	key = strings.TrimRight(key, " \t")
	if !ok {
		return setting{}, fmt.Sprintf("malformed line %q: want key = value", clip(line))
	}
	if !validKey(key) {
		return setting{}, fmt.Sprintf("malformed key %q: want dotted words of letters, digits, _ and -", clip(key))
	}
	key = strings.ReplaceAll(key, `\.`, "\x00") // an escaped dot stays inside its word
	s := setting{key: key}
	v, msg := lexValue(strings.TrimLeft(value, " \t"))
	if msg != "" {
		return setting{key: displayKey(key)}, msg
	}
	if v == "" {
		return setting{key: displayKey(key)}, "no value"
	}
	s.value = v
	return s, ""
}

// lexValue parses what follows the `=`: a quoted value, or the text up to
// a comment with trailing spaces dropped.
func lexValue(v string) (string, string) {
	if strings.HasPrefix(v, "'''") {
		return "", "multi-line values ('''…''') are not supported"
	}
	if strings.HasPrefix(v, "'") {
		end := strings.IndexByte(v[1:], '\'')
		if end < 0 {
			return "", "quoted value has no closing '"
		}
		tail := strings.TrimLeft(v[end+2:], " \t")
		if tail != "" && tail[0] != '#' {
			return "", fmt.Sprintf("text %q after the quoted value", clip(tail))
		}
		if end == 0 {
			return "", "empty quoted value"
		}
		return v[1 : end+1], ""
	}
	if i := strings.IndexByte(v, '#'); i >= 0 {
		v = v[:i]
	}
	return strings.TrimRight(v, " \t"), ""
}

// validKey reports whether key is dotted words of [A-Za-z0-9_-] or `\.`.
func validKey(key string) bool {
	if key == "" {
		return false
	}
	for _, w := range strings.Split(strings.ReplaceAll(key, `\.`, "_"), ".") {
		if w == "" {
			return false
		}
		for i := 0; i < len(w); i++ {
			c := w[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
				return false
			}
		}
	}
	return true
}

// displayKey is a lexed key as written (escaped dots restored).
func displayKey(key string) string { return strings.ReplaceAll(key, "\x00", `\.`) }

// clip shortens s for an error message.
func clip(s string) string {
	const maxLen = 80
	if len(s) <= maxLen {
		return s
	}
	for i := maxLen; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "…"
		}
	}
	return ""
}
