package main

import (
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/warrenmq/warren/internal/testpki"
)

// TestManagementSSLOptions: management.ssl.ip and .port are
// --management-ssl-listen's default; with them alone the API serves
// HTTPS only, as RabbitMQ's plugin does; management.tcp.* or
// --management-listen keep the plain listener beside it.
func TestManagementSSLOptions(t *testing.T) {
	const ssl = "management.ssl.port = 15671\nmanagement.ssl.ip = 127.0.0.1\nmanagement.ssl.certfile = /c.pem\nmanagement.ssl.keyfile = /k.pem\n"
	cases := []struct {
		name, file string
		args, env  []string
		plain, tls string
	}{
		{"neither", "", nil, nil, "127.0.0.1:15672", ""},
		{"HTTPS alone", ssl, nil, nil, "", "127.0.0.1:15671"},
		{"both in the file", ssl + "management.tcp.port = 15672\n", nil, nil, ":15672", "127.0.0.1:15671"},
		{"HTTPS and the plain flag", ssl, []string{"--management-listen", "127.0.0.1:15680"}, nil, "127.0.0.1:15680", "127.0.0.1:15671"},
		{"flag wins", ssl, []string{"--management-ssl-listen", "127.0.0.1:15699"}, nil, "", "127.0.0.1:15699"},
		{"environment", ssl, nil, []string{"WARREN_MANAGEMENT_SSL_LISTEN=127.0.0.1:15698"}, "", "127.0.0.1:15698"},
		{"none", ssl, []string{"--management-ssl-listen", "none"}, nil, "127.0.0.1:15672", ""},
	}
	for _, c := range cases {
		args := append([]string{"--config", writeConf(t, c.file)}, c.args...)
		o, err := parseOptions(args, envOf(c.env...), io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if o.mgmtListen != c.plain || o.mgmtSSLListen != c.tls {
			t.Errorf("%s: plain %q, HTTPS %q; want %q, %q", c.name, o.mgmtListen, o.mgmtSSLListen, c.plain, c.tls)
		}
	}
}

// TestManagementSSLBadFile: a management.ssl file that does not load
// stops the start with an error naming the file's line and the key.
func TestManagementSSLBadFile(t *testing.T) {
	dir := t.TempDir()
	srv := testpki.NewCA(t, "CA").Server(t).Write(t, dir, "server")
	cases := []struct{ name, keys, want string }{
		{"missing certificate", "management.ssl.certfile = " + dir + "/none.pem\nmanagement.ssl.keyfile = " + srv.Key,
			":3: management.ssl.certfile: open " + dir + "/none.pem: no such file"},
		{"key that is no key", "management.ssl.certfile = " + srv.CertFile + "\nmanagement.ssl.keyfile = " + srv.CertFile,
			":4: management.ssl.keyfile: " + srv.CertFile + ": "},
		{"CAs that are no certificates", "management.ssl.certfile = " + srv.CertFile + "\nmanagement.ssl.keyfile = " + srv.Key +
			"\nmanagement.ssl.cacertfile = " + srv.Key, ":5: management.ssl.cacertfile: " + srv.Key + ": no PEM certificate"},
	}
	for _, c := range cases {
		file := writeConf(t, "warren.data_dir = "+t.TempDir()+"\nmanagement.ssl.port = 0\n"+c.keys+"\n")
		err := run([]string{"--config", file, "--listen", "127.0.0.1:0"}, envOf(), io.Discard, make(chan os.Signal))
		if err == nil || !strings.HasPrefix(err.Error(), file) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want an error starting with the file and holding %q", c.name, err, c.want)
		}
	}
}

// TestRunManagementHTTPS: a node configured with management.ssl.*
// answers the API over HTTPS with that certificate.
func TestRunManagementHTTPS(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, "CA")
	srv := ca.Server(t).Write(t, dir, "server")
	addr := freeLoopbackAddr(t)
	port := addr[strings.LastIndex(addr, ":")+1:]
	file := writeConf(t, "management.ssl.port = "+port+"\nmanagement.ssl.ip = 127.0.0.1\nmanagement.ssl.certfile = "+srv.CertFile+
		"\nmanagement.ssl.keyfile = "+srv.Key+"\n")
	runNode(t, "--config", file, "--data-dir", t.TempDir())
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, _ := http.NewRequest("GET", "https://localhost:"+port+"/api/overview", nil)
		req.SetBasicAuth("guest", "guest")
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("GET /api/overview over HTTPS: %d", resp.StatusCode)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no HTTPS answer: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
