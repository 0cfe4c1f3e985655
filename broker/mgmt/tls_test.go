package mgmt

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net/http"
	"os"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/broker"
	"github.com/warrenmq/warren/internal/testpki"
)

// startHTTPS starts a broker and its API on HTTPS only, with cfg's files.
func startHTTPS(t *testing.T, cfg broker.TLSConfig) *Server {
	t.Helper()
	b, err := broker.NewServer(broker.Config{Listen: []string{"127.0.0.1:0"}, DataDir: t.TempDir(), Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	conf, err := broker.ServerTLSConfig(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	api := New(Config{Broker: b})
	if err := api.StartTLS("127.0.0.1:0", conf); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Close() })
	if api.Addr() != nil {
		t.Fatal("a plain listener without Start")
	}
	return api
}

// getHTTPS asks GET /api/whoami as guest over a fresh TLS connection and
// returns the status and the server's certificate.
func getHTTPS(t *testing.T, api *Server, c *tls.Config) (int, *x509.Certificate, error) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: c, DisableKeepAlives: true}}
	defer client.CloseIdleConnections()
	req, err := http.NewRequest("GET", "https://localhost:"+portOf(api)+"/api/whoami", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("guest", "guest")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, resp.TLS.PeerCertificates[0], nil
}

func portOf(api *Server) string {
	a := api.TLSAddr().String()
	return a[len("127.0.0.1:"):]
}

// TestHTTPS: the API answers over HTTPS with the configured certificate,
// TLS 1.2 and 1.3 only.
func TestHTTPS(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, "mgmt CA")
	srv := ca.Server(t).Write(t, dir, "server")
	api := startHTTPS(t, broker.TLSConfig{CertFile: srv.CertFile, KeyFile: srv.Key})
	status, cert, err := getHTTPS(t, api, &tls.Config{RootCAs: ca.Pool()})
	if err != nil || status != 200 || cert.SerialNumber.Cmp(srv.Cert.SerialNumber) != 0 {
		t.Fatalf("GET over HTTPS: %d, %v; certificate %v, want %v", status, err, cert, srv.Cert.SerialNumber)
	}
	if _, _, err := getHTTPS(t, api, &tls.Config{RootCAs: ca.Pool(), MaxVersion: tls.VersionTLS11}); err == nil {
		t.Error("TLS 1.1 accepted")
	}
}

// TestHTTPSClientCertificate: with verify_peer and fail_if_no_peer_cert,
// a client without a certificate, or with one from another CA, is
// refused during the handshake; one with a certificate of the CA is
// served.
func TestHTTPSClientCertificate(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, "mgmt CA")
	srv := ca.Server(t).Write(t, dir, "server")
	api := startHTTPS(t, broker.TLSConfig{CertFile: srv.CertFile, KeyFile: srv.Key,
		CACertFile: ca.WriteCA(t, dir, "ca"), VerifyPeer: true, FailIfNoPeerCert: true})
	client := ca.Issue(t, testpki.Leaf{Subject: pkix.Name{CommonName: "ops"}})
	stranger := testpki.NewCA(t, "other CA").Issue(t, testpki.Leaf{Subject: pkix.Name{CommonName: "ops"}})
	cases := []struct {
		name  string
		certs []tls.Certificate
		ok    bool
	}{
		{"no certificate", nil, false},
		{"another CA's certificate", []tls.Certificate{stranger.TLS(t)}, false},
		{"the CA's certificate", []tls.Certificate{client.TLS(t)}, true},
	}
	for _, c := range cases {
		status, _, err := getHTTPS(t, api, &tls.Config{RootCAs: ca.Pool(), Certificates: c.certs})
		if c.ok != (err == nil && status == 200) {
			t.Errorf("%s: status %d, error %v; want served %v", c.name, status, err, c.ok)
		}
	}
}

// TestHTTPSReloadsCertificate: a certificate written over the files is
// served to new connections without a restart.
func TestHTTPSReloadsCertificate(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, "mgmt CA")
	first := ca.Server(t).Write(t, dir, "server")
	api := startHTTPS(t, broker.TLSConfig{CertFile: first.CertFile, KeyFile: first.Key, ReloadCheck: time.Millisecond})
	c := &tls.Config{RootCAs: ca.Pool()}
	if _, cert, err := getHTTPS(t, api, c); err != nil || cert.SerialNumber.Cmp(first.Cert.SerialNumber) != 0 {
		t.Fatalf("first certificate: %v, %v", cert, err)
	}
	second := ca.Server(t)
	// The key first: a handshake between the two writes keeps the old
	// pair, which no longer loads.
	if err := os.WriteFile(first.Key, second.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(first.CertFile, second.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, cert, err := getHTTPS(t, api, c)
		if err == nil && cert.SerialNumber.Cmp(second.Cert.SerialNumber) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still served %v (%v); want the renewed certificate", cert, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestHTTPSBadFiles: a file that does not load is an error naming it.
func TestHTTPSBadFiles(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, "mgmt CA")
	srv := ca.Server(t).Write(t, dir, "server")
	other := ca.Server(t).Write(t, dir, "other")
	garbage := dir + "/garbage.pem"
	if err := os.WriteFile(garbage, []byte("not PEM"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		cfg  broker.TLSConfig
		file string
	}{
		{"missing certificate", broker.TLSConfig{CertFile: dir + "/none.pem", KeyFile: srv.Key}, broker.TLSCertFile},
		{"not a certificate", broker.TLSConfig{CertFile: garbage, KeyFile: srv.Key}, broker.TLSCertFile},
		{"missing key", broker.TLSConfig{CertFile: srv.CertFile, KeyFile: dir + "/none.pem"}, broker.TLSKeyFile},
		{"another certificate's key", broker.TLSConfig{CertFile: srv.CertFile, KeyFile: other.Key}, broker.TLSKeyFile},
		{"CAs not PEM", broker.TLSConfig{CertFile: srv.CertFile, KeyFile: srv.Key, CACertFile: garbage}, broker.TLSCACertFile},
	}
	for _, c := range cases {
		_, err := broker.ServerTLSConfig(c.cfg, nil)
		var fe *broker.TLSFileError
		if !errors.As(err, &fe) || fe.File != c.file {
			t.Errorf("%s: %v; want a TLSFileError naming %s", c.name, err, c.file)
		}
	}
}
