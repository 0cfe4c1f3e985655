package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/internal/testpki"
)

// externalAuth is the EXTERNAL mechanism for amqp091-go, which has none.
type externalAuth struct{}

func (externalAuth) Mechanism() string { return "EXTERNAL" }
func (externalAuth) Response() string  { return "" }

// tlsNode is a Warren process started with a configuration file that
// gives it a plain and a TLS listener, verify_peer with
// fail_if_no_peer_cert, and EXTERNAL by common name.
type tlsNode struct {
	proc    *warrenProc
	tlsAddr string
	ca      *testpki.CA // signs the server's and the clients' certificates
	caFile  string
	keyDir  string // holds the certificates and keys
	server  *testpki.Pair
}

func startTLSNode(t *testing.T) *tlsNode {
	t.Helper()
	bin := buildWarren(t)
	dir := t.TempDir()
	n := &tlsNode{ca: testpki.NewCA(t, "Warren e2e CA"), keyDir: dir}
	n.caFile = n.ca.WriteCA(t, dir, "ca")
	n.server = n.ca.Server(t).Write(t, dir, "server")
	n.proc = newWarrenProc(t, bin, filepath.Join(dir, "data"))
	n.tlsAddr = freeAddr(t)
	conf := fmt.Sprintf(`# plain and TLS side by side
listeners.tcp.default = %s
listeners.ssl.default = %s
ssl_options.cacertfile = %s
ssl_options.certfile = %s
ssl_options.keyfile = %s
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = true
ssl_options.versions.1 = tlsv1.2
ssl_options.versions.2 = tlsv1.3
auth_mechanisms.1 = PLAIN
auth_mechanisms.2 = AMQPLAIN
auth_mechanisms.3 = EXTERNAL
ssl_cert_login_from = common_name
`, n.proc.addr, n.tlsAddr, n.caFile, n.server.CertFile, n.server.Key)
	confFile := filepath.Join(dir, "rabbitmq.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	n.proc.args = []string{"--config", confFile}
	n.proc.start(t)
	return n
}

// client returns a TLS configuration trusting roots, with a certificate
// for the common name cn signed by signer (none when signer is nil).
func (n *tlsNode) client(t *testing.T, signer *testpki.CA, cn string) *tls.Config {
	conf := &tls.Config{RootCAs: n.ca.Pool(), ServerName: "localhost"}
	if signer != nil {
		conf.Certificates = []tls.Certificate{signer.Issue(t, testpki.Leaf{Subject: pkix.Name{CommonName: cn}}).TLS(t)}
	}
	return conf
}

func (n *tlsNode) url(user string) string {
	if user == "" {
		return "amqps://" + n.tlsAddr + "/"
	}
	return "amqps://" + user + "@" + n.tlsAddr + "/"
}

// TestTLSNode: one node from a configuration file serves plain AMQP and
// AMQPS at once; AMQPS takes TLS 1.2 and 1.3 from clients with a
// certificate of its CA, refuses clients without one or with one from
// another CA, logs in a certificate's user with EXTERNAL, and serves a
// replaced certificate to new connections without a restart.
func TestTLSNode(t *testing.T) {
	n := startTLSNode(t)

	t.Run("plain", func(t *testing.T) {
		c, err := amqp.Dial(n.proc.url())
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	})
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			conf := n.client(t, n.ca, "guest")
			conf.MinVersion, conf.MaxVersion = v, v
			c, err := amqp.DialTLS(n.url("guest:guest"), conf)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if got := c.ConnectionState().Version; got != v {
				t.Fatalf("negotiated %s", tls.VersionName(got))
			}
			ch, err := c.Channel()
			if err != nil {
				t.Fatal(err)
			}
			q, err := ch.QueueDeclare("", false, true, true, false, nil)
			if err != nil {
				t.Fatal(err)
			}
			mustOK(t, ch.Publish("", q.Name, false, false, text("over "+tls.VersionName(v))), "publish")
			for deadline := time.Now().Add(5 * time.Second); ; {
				d, ok, err := ch.Get(q.Name, true)
				if err != nil {
					t.Fatal(err)
				}
				if ok {
					if string(d.Body) != "over "+tls.VersionName(v) {
						t.Fatalf("body %q", d.Body)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the message did not arrive")
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	t.Run("TLS 1.1 refused", func(t *testing.T) {
		conf := n.client(t, n.ca, "guest")
		conf.MinVersion, conf.MaxVersion = tls.VersionTLS11, tls.VersionTLS11
		if c, err := amqp.DialTLS(n.url("guest:guest"), conf); err == nil {
			c.Close()
			t.Fatal("a TLS 1.1 client was served")
		}
	})
	t.Run("no client certificate refused", func(t *testing.T) {
		if c, err := amqp.DialTLS(n.url("guest:guest"), n.client(t, nil, "")); err == nil {
			c.Close()
			t.Fatal("a client without a certificate was served")
		}
	})
	t.Run("certificate from an unknown CA refused", func(t *testing.T) {
		other := testpki.NewCA(t, "another CA")
		if c, err := amqp.DialTLS(n.url("guest:guest"), n.client(t, other, "guest")); err == nil {
			c.Close()
			t.Fatal("a client with a certificate of another CA was served")
		}
	})
	t.Run("EXTERNAL", func(t *testing.T) {
		c, err := amqp.DialConfig(n.url(""), amqp.Config{SASL: []amqp.Authentication{externalAuth{}}, TLSClientConfig: n.client(t, n.ca, "guest")})
		if err != nil {
			t.Fatalf("EXTERNAL as guest: %v", err)
		}
		c.Close()
		_, err = amqp.DialConfig(n.url(""), amqp.Config{SASL: []amqp.Authentication{externalAuth{}}, TLSClientConfig: n.client(t, n.ca, "nobody")})
		var ae *amqp.Error
		if !errors.As(err, &ae) || ae.Code != amqp.AccessRefused {
			t.Fatalf("EXTERNAL as a user that does not exist: %v, want 403", err)
		}
	})
	t.Run("pika", func(t *testing.T) { pikaTLS(t, n) })
	// Last: it replaces the server's certificate.
	t.Run("certificate reload", func(t *testing.T) { testCertificateReload(t, n) })
}

// testCertificateReload replaces the server's certificate and key with
// ones from a new CA; new connections get the new certificate within a
// few seconds, and files that do not load keep it.
func testCertificateReload(t *testing.T, n *tlsNode) {
	ca2 := testpki.NewCA(t, "Warren e2e CA 2")
	fresh := ca2.Server(t)
	replace(t, n.server.CertFile, fresh.CertPEM)
	replace(t, n.server.Key, fresh.KeyPEM)
	conf := n.client(t, n.ca, "guest")
	conf.RootCAs = ca2.Pool()
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var c *amqp.Connection
		if c, err = amqp.DialTLS(n.url("guest:guest"), conf); err == nil {
			issuer := c.ConnectionState().PeerCertificates[0].Issuer.CommonName
			c.Close()
			if issuer != "Warren e2e CA 2" {
				t.Fatalf("served a certificate of %q", issuer)
			}
			break
		}
	}
	if err != nil {
		t.Fatalf("the new certificate was not served: %v\n%s", err, n.proc.out)
	}
	replace(t, n.server.CertFile, []byte("not a certificate"))
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(n.proc.out.String(), "cannot be loaded"); time.Sleep(50 * time.Millisecond) {
		if c, err := amqp.DialTLS(n.url("guest:guest"), conf); err != nil {
			t.Fatalf("a broken certificate file replaced the working certificate: %v", err)
		} else {
			c.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("the broken file was not reported:\n%s", n.proc.out)
		}
	}
	c, err := amqp.DialTLS(n.url("guest:guest"), conf)
	if err != nil {
		t.Fatalf("after a broken certificate file: %v", err)
	}
	c.Close()
}

// replace writes data to a new file and renames it over path, as
// certificate renewal tools do.
func replace(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// pikaTLS connects with Python's pika over TLS with a client certificate
// and logs in with EXTERNAL. Without pika the test skips, or fails under
// CI.
func pikaTLS(t *testing.T, n *tlsNode) {
	if err := exec.Command(debianPython, "-c", "import pika").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s cannot import pika (apt-get install python3-pika): %v", debianPython, err)
		}
		t.Skipf("%s cannot import pika (apt-get install python3-pika): %v", debianPython, err)
	}
	client := n.ca.Issue(t, testpki.Leaf{Subject: pkix.Name{CommonName: "guest"}}).Write(t, n.keyDir, "pika-client")
	host, port, _ := strings.Cut(n.tlsAddr, ":")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, debianPython, "pika/tls_external.py", host, port, n.caFile, client.CertFile, client.Key,
		name(t, "")).CombinedOutput()
	if got := strings.TrimSpace(string(out)); err != nil || got != "OK" {
		t.Fatalf("pika over TLS with EXTERNAL: %v\n%s", err, got)
	}
}
