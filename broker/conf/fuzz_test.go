package conf

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse: any input either parses or fails with an *Error naming a
// line of the input; it never panics, and a parsed file's listeners are
// host:port addresses.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"listeners.tcp.default = 5672\nlisteners.ssl.default = [::1]:5671\nssl_options.certfile = c\nssl_options.keyfile = k\n",
		"default_pass = 'a#b' # c\nloopback_users = none\nvm_memory_high_watermark.absolute = 2GiB\n",
		"ssl_options.versions.1 = tlsv1.3\nssl_options.ciphers.1 = ECDHE-RSA-AES256-GCM-SHA384\n",
		"frame_max = 128KB\r\nheartbeat = 0\r\n# c\n\n",
		"loopback_users.a\\.b = true\nwarren.cluster.join.1 = h:1\n",
		"x\n= y\nkey = '''\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("f.conf", data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *Error", err)
			}
			if lines := strings.Count(string(data), "\n") + 1; e.Line < 1 || e.Line > lines {
				t.Fatalf("error on line %d of a %d-line input: %v", e.Line, lines, err)
			}
			return
		}
		for _, a := range append(append([]string{}, c.TCP.Addrs...), c.SSL.Addrs...) {
			if i := strings.LastIndexByte(a, ':'); i < 0 || i == len(a)-1 {
				t.Fatalf("listener %q is not host:port", a)
			}
		}
	})
}
