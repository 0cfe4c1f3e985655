package broker

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"net"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/internal/testpki"
	"github.com/warrenmq/warren/protocol"
)

// externalAuth is the EXTERNAL mechanism for amqp091-go, which has none.
type externalAuth struct{}

func (externalAuth) Mechanism() string { return "EXTERNAL" }
func (externalAuth) Response() string  { return "" }

// tlsServer starts a server with a plain and a TLS listener on loopback,
// verify_peer against ca, and EXTERNAL offered.
func tlsServer(t *testing.T, ca *testpki.CA, mod ...func(*Config)) *Server {
	t.Helper()
	dir := t.TempDir()
	srv := ca.Server(t).Write(t, dir, "server")
	return startServer(t, append([]func(*Config){func(c *Config) {
		c.ListenTLS = []string{"127.0.0.1:0"}
		c.AuthMechanisms = []string{"PLAIN", "AMQPLAIN", "EXTERNAL"}
		c.TLS = &TLSConfig{CertFile: srv.CertFile, KeyFile: srv.Key, CACertFile: ca.WriteCA(t, dir, "ca"), VerifyPeer: true}
	}}, mod...)...)
}

// startMechanisms connects (over TLS when conf is set) and returns the
// mechanisms of connection.start, with the connection's frame reader.
func startMechanisms(t *testing.T, addr string, conf *tls.Config) (string, net.Conn, *protocol.FrameReader) {
	t.Helper()
	var nc net.Conn
	var err error
	if conf != nil {
		nc, err = tls.Dial("tcp", addr, conf)
	} else {
		nc, err = net.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	nc.Write(protocol.ProtocolHeader)
	fr := protocol.NewFrameReader(nc)
	f, err := fr.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	m, err := protocol.DecodeMethod(f.Payload)
	if err != nil {
		t.Fatal(err)
	}
	start, ok := m.(*protocol.ConnectionStart)
	if !ok {
		t.Fatalf("got %v, want connection.start", m)
	}
	return start.Mechanisms, nc, fr
}

// TestTLSBesidePlain: plain and TLS listeners serve side by side; EXTERNAL
// is offered on the TLS one only, and asking for it on the plain one is
// refused as RabbitMQ refuses a mechanism it did not offer.
func TestTLSBesidePlain(t *testing.T) {
	ca := testpki.NewCA(t, "test CA")
	s := tlsServer(t, ca)
	client := ca.Issue(t, testpki.Leaf{Subject: pkix.Name{CommonName: "guest"}})
	conf := &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", Certificates: []tls.Certificate{client.TLS(t)}}

	if mechs, _, _ := startMechanisms(t, s.TLSAddr().String(), conf); mechs != "PLAIN AMQPLAIN EXTERNAL" {
		t.Errorf("TLS listener offers %q", mechs)
	}
	mechs, nc, fr := startMechanisms(t, s.Addr().String(), nil)
	if mechs != "PLAIN AMQPLAIN" {
		t.Errorf("plain listener offers %q", mechs)
	}
	nc.Write(protocol.AppendMethodFrame(nil, 0, &protocol.ConnectionStartOk{Mechanism: "EXTERNAL", Locale: "en_US"}))
	if code, text := readClose(t, fr); code != protocol.CommandInvalid || text != "COMMAND_INVALID - invalid authentication mechanism 'EXTERNAL'" {
		t.Errorf("EXTERNAL on a plain connection: %d %q", code, text)
	}

	for _, addr := range []string{s.Addr().String(), s.TLSAddr().String()} {
		var c *amqp.Connection
		var err error
		if addr == s.Addr().String() {
			c, err = amqp.Dial("amqp://guest:guest@" + addr + "/")
		} else {
			c, err = amqp.DialTLS("amqps://guest:guest@"+addr+"/", conf)
		}
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		c.Close()
	}
}

// TestExternalLogin: EXTERNAL logs in as the user the certificate names
// (its distinguished name by default, as RabbitMQ writes it) when that
// user exists, and is refused with 403 otherwise.
func TestExternalLogin(t *testing.T) {
	ca := testpki.NewCA(t, "test CA")
	dn := "CN=app-1,OU=payments,O=Warren tests"
	s := tlsServer(t, ca, func(c *Config) { c.DefaultUser, c.DefaultPass = dn, "unused" })
	url := "amqps://" + s.TLSAddr().String() + "/"
	for _, tc := range []struct {
		name    string
		subject pkix.Name
		ok      bool
	}{
		{"the user's certificate", pkix.Name{CommonName: "app-1", OrganizationalUnit: []string{"payments"}, Organization: []string{"Warren tests"}}, true},
		{"another name", pkix.Name{CommonName: "app-2", OrganizationalUnit: []string{"payments"}, Organization: []string{"Warren tests"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := ca.Issue(t, testpki.Leaf{Subject: tc.subject})
			c, err := amqp.DialConfig(url, amqp.Config{SASL: []amqp.Authentication{externalAuth{}},
				TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", Certificates: []tls.Certificate{client.TLS(t)}}})
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				c.Close()
				return
			}
			if amqpCode(err) != amqp.AccessRefused {
				t.Fatalf("login: %v, want 403", err)
			}
		})
	}
}

// TestTLSHandshakeDoesNotBlockAccept: a client that opens the TLS port and
// never starts the handshake holds up no one, and is dropped after the
// TLS handshake timeout.
func TestTLSHandshakeDoesNotBlockAccept(t *testing.T) {
	ca := testpki.NewCA(t, "test CA")
	s := tlsServer(t, ca, func(c *Config) { c.TLS.HandshakeTimeout = 300 * time.Millisecond })
	silent, err := net.Dial("tcp", s.TLSAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	begin := time.Now()
	c, err := amqp.DialTLS("amqps://guest:guest@"+s.TLSAddr().String()+"/", &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"})
	if err != nil {
		t.Fatalf("a second client while the first is silent: %v", err)
	}
	c.Close()
	silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = silent.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); err == nil || ok && ne.Timeout() {
		t.Fatalf("the silent client was not dropped: %v", err)
	}
	if el := time.Since(begin); el < 250*time.Millisecond {
		t.Fatalf("the silent client was dropped after %v, before the handshake timeout", el)
	}
}

// TestCertUserName: ssl_cert_login_from takes the user name from the
// distinguished name (RabbitMQ's order and escaping), the common name or
// the n-th subject alternative name of a type.
func TestCertUserName(t *testing.T) {
	ca := testpki.NewCA(t, "test CA")
	cert := ca.Issue(t, testpki.Leaf{
		Subject: pkix.Name{CommonName: "app, \"one\"", Organization: []string{"Acme+Co"}, Country: []string{"SE"}},
		DNS:     []string{"a.example", "b.example"}, Emails: []string{"ops@example.com"},
		IPs: []net.IP{net.IPv4(10, 0, 0, 1)}, URIs: []string{"spiffe://example/app"},
	}).Cert
	for _, tc := range []struct {
		from, sanType string
		index         int
		want          string
		ok            bool
	}{
		{"distinguished_name", "", 0, `CN=app\, \"one\",O=Acme\+Co,C=SE`, true},
		{"common_name", "", 0, `app, "one"`, true},
		{"subject_alternative_name", "dns", 0, "a.example", true},
		{"subject_alternative_name", "dns", 1, "b.example", true},
		{"subject_alternative_name", "dns", 2, "", false},
		{"subject_alternative_name", "email", 0, "ops@example.com", true},
		{"subject_alternative_name", "ip", 0, "10.0.0.1", true},
		{"subject_alternative_name", "uri", 0, "spiffe://example/app", true},
	} {
		got, ok := certUserName(cert, tc.from, tc.sanType, tc.index)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s %s %d: %q %v, want %q %v", tc.from, tc.sanType, tc.index, got, ok, tc.want, tc.ok)
		}
	}
	noCN := ca.Issue(t, testpki.Leaf{Subject: pkix.Name{Organization: []string{"Acme"}}}).Cert
	if _, ok := certUserName(noCN, "common_name", "", 0); ok {
		t.Error("a certificate without a common name gave one")
	}
}
