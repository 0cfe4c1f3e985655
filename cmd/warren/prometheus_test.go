package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestPrometheusListen: the endpoint listens beside the first AMQP
// listener, 10020 ports up, as RabbitMQ's 15692 beside 5672; the flag,
// its environment variable and the file's prometheus.tcp.* set it, and
// none disables it.
func TestPrometheusListen(t *testing.T) {
	dir := t.TempDir()
	file := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		name string
		args []string
		env  []string
		want string
		def  bool
	}{
		{"default", nil, nil, "127.0.0.1:15692", true},
		{"beside another AMQP port", []string{"--listen", "127.0.0.1:5680"}, nil, "127.0.0.1:15700", true},
		{"flag", []string{"--prometheus-listen", "127.0.0.1:0"}, nil, "127.0.0.1:0", false},
		{"none", []string{"--prometheus-listen", "none"}, nil, "", false},
		{"environment", nil, []string{"WARREN_PROMETHEUS_LISTEN=0.0.0.0:9419"}, "0.0.0.0:9419", false},
		{"file, both keys", []string{"--config", file("both.conf", "prometheus.tcp.port = 9000\nprometheus.tcp.ip = 127.0.0.1\n")}, nil, "127.0.0.1:9000", false},
		{"file, the ip alone", []string{"--config", file("ip.conf", "prometheus.tcp.ip = 127.0.0.1\n")}, nil, "127.0.0.1:15692", false},
	} {
		o, err := parseOptions(c.args, envOf(c.env...), nil)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if o.promListen != c.want || o.promDefault != c.def {
			t.Errorf("%s: prometheus listener %q (default %v), want %q (%v)", c.name, o.promListen, o.promDefault, c.want, c.def)
		}
	}
}
