package conf

import (
	"crypto/tls"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// TestManagementSSLAndAuditKeys: management.ssl.* as the management
// plugin's HTTPS listener, and warren.audit_log.*.
func TestManagementSSLAndAuditKeys(t *testing.T) {
	c, err := Parse("r.conf", []byte(`
management.ssl.port       = 15671
management.ssl.ip         = 127.0.0.1
management.ssl.cacertfile = /ca.pem
management.ssl.certfile   = /cert.pem
management.ssl.keyfile    = /key.pem
management.ssl.verify     = verify_peer
management.ssl.fail_if_no_peer_cert = true
management.ssl.versions.1 = tlsv1.3
warren.audit_log.file = /var/log/warren/audit.log
warren.audit_log.max_size_mb = 5
warren.audit_log.max_files = 3
`))
	if err != nil {
		t.Fatal(err)
	}
	want := ManagementSSL{Port: 15671, IP: "127.0.0.1", TLS: TLS{CACertFile: "/ca.pem", CertFile: "/cert.pem",
		KeyFile: "/key.pem", VerifyPeer: true, FailIfNoPeerCert: true, Versions: []uint16{tls.VersionTLS13}}}
	if !reflect.DeepEqual(c.ManagementSSL, want) {
		t.Errorf("management.ssl = %+v; want %+v", c.ManagementSSL, want)
	}
	if got := (AuditLog{File: "/var/log/warren/audit.log", MaxSizeMB: 5, MaxFiles: 3}); c.Warren.AuditLog != got {
		t.Errorf("warren.audit_log = %+v; want %+v", c.Warren.AuditLog, got)
	}
	if !c.Has("management.ssl.versions") || c.Line("management.ssl.port") != 2 || !reflect.DeepEqual(c.TLS, TLS{}) {
		t.Errorf("Has/Line of management.ssl, or ssl_options touched: %+v", c.TLS)
	}
}

// TestManagementSSLAndAuditErrors: the errors name the key to blame.
func TestManagementSSLAndAuditErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		line       int
		key, msg   string
	}{
		{"port without a certificate", "management.ssl.port = 15671", 1, "management.ssl.port", "needs management.ssl.certfile"},
		{"certificate without a port", "management.ssl.certfile = /c.pem\nmanagement.ssl.keyfile = /k.pem", 1, "management.ssl.certfile", "needs management.ssl.port"},
		{"verify_peer without CAs", "management.ssl.port = 1\nmanagement.ssl.certfile = /c\nmanagement.ssl.keyfile = /k\nmanagement.ssl.verify = verify_peer", 4,
			"management.ssl.verify", "needs management.ssl.cacertfile"},
		{"fail_if_no_peer_cert without verify_peer", "management.ssl.port = 1\nmanagement.ssl.certfile = /c\nmanagement.ssl.keyfile = /k\nmanagement.ssl.fail_if_no_peer_cert = true", 4,
			"management.ssl.fail_if_no_peer_cert", "needs management.ssl.verify"},
		{"bad port", "management.ssl.port = 99999", 1, "management.ssl.port", "out of range"},
		{"bad ip", "management.ssl.ip = anywhere", 1, "management.ssl.ip", "not an IP address"},
		{"TLS 1.1", "management.ssl.versions.1 = tlsv1.1", 1, "management.ssl.versions.1", "refused"},
		{"bad verify", "management.ssl.verify = maybe", 1, "management.ssl.verify", "is not one of"},
		{"audit size zero", "warren.audit_log.max_size_mb = 0", 1, "warren.audit_log.max_size_mb", "out of range"},
		{"audit files not a number", "warren.audit_log.max_files = many", 1, "warren.audit_log.max_files", "not an integer"},
		{"unknown management.ssl key", "management.ssl.depth = 2", 1, "management.ssl.depth", "does not implement"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("/r.conf", []byte(tc.file))
			var e *Error
			if !errors.As(err, &e) || e.Line != tc.line || e.Key != tc.key || !strings.Contains(e.Msg, tc.msg) {
				t.Fatalf("error %v; want line %d, key %q, %q", err, tc.line, tc.key, tc.msg)
			}
		})
	}
}
