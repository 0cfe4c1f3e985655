package conf

import (
	"fmt"
	"net"
)

// managementSSLKeys are the management plugin's HTTPS listener keys
// (management.ssl.*), auditKeys Warren's audit log (warren.audit_log.*).
// init adds both to keys.
var managementSSLKeys = map[string]handler{
	"management.ssl.port": func(c *Config, _, v string) string {
		n, msg := parseInt(v, 0, 65535)
		c.ManagementSSL.Port = int(n)
		return msg
	},
	"management.ssl.ip": func(c *Config, _, v string) string {
		if net.ParseIP(v) == nil {
			return fmt.Sprintf("%q is not an IP address", clip(v))
		}
		c.ManagementSSL.IP = v
		return ""
	},
	"management.ssl.certfile":   func(c *Config, _, v string) string { c.ManagementSSL.TLS.CertFile = v; return "" },
	"management.ssl.keyfile":    func(c *Config, _, v string) string { c.ManagementSSL.TLS.KeyFile = v; return "" },
	"management.ssl.cacertfile": func(c *Config, _, v string) string { c.ManagementSSL.TLS.CACertFile = v; return "" },
	"management.ssl.verify": func(c *Config, _, v string) string {
		w, msg := parseEnum(v, "verify_peer", "verify_none")
		c.ManagementSSL.TLS.VerifyPeer = w == "verify_peer"
		return msg
	},
	"management.ssl.fail_if_no_peer_cert": func(c *Config, _, v string) (msg string) {
		c.ManagementSSL.TLS.FailIfNoPeerCert, msg = parseBool(v)
		return
	},
	"management.ssl.versions.$": func(c *Config, _, v string) string {
		ver, msg := parseTLSVersion(v)
		c.ManagementSSL.TLS.Versions = append(c.ManagementSSL.TLS.Versions, ver)
		return msg
	},
}

var auditKeys = map[string]handler{
	"warren.audit_log.file": func(c *Config, _, v string) string { c.Warren.AuditLog.File = v; return "" },
	"warren.audit_log.max_size_mb": func(c *Config, _, v string) string {
		n, msg := parseInt(v, 1, 1<<20)
		c.Warren.AuditLog.MaxSizeMB = int(n)
		return msg
	},
	"warren.audit_log.max_files": func(c *Config, _, v string) string {
		n, msg := parseInt(v, 1, 10000)
		c.Warren.AuditLog.MaxFiles = int(n)
		return msg
	},
}

func init() {
	for _, m := range []map[string]handler{managementSSLKeys, auditKeys} {
		for k, h := range m {
			keys[k] = h
		}
	}
}

// ManagementSSL is management.ssl.*: the management API's HTTPS
// listener, on IP (every interface when empty) and Port, with TLS's
// CertFile, KeyFile, CACertFile, VerifyPeer, FailIfNoPeerCert and
// Versions.
type ManagementSSL struct {
	Port int
	IP   string
	TLS  TLS
}

// AuditLog is warren.audit_log.*: the audit log's file, and the size in
// MiB and number of rotated files kept (zero when not set).
type AuditLog struct {
	File                string
	MaxSizeMB, MaxFiles int
}

// checkManagementSSL looks at the management.ssl.* keys together.
func (c *Config) checkManagementSSL() (string, string) {
	m := c.ManagementSSL.TLS
	set := c.Has("management.ssl.port")
	switch {
	case !set && (c.Has("management.ssl.ip") || m.CertFile != "" || m.KeyFile != "" || m.CACertFile != ""):
		for _, k := range []string{"management.ssl.ip", "management.ssl.certfile", "management.ssl.keyfile", "management.ssl.cacertfile"} {
			if c.Has(k) {
				return "the management API's HTTPS listener needs management.ssl.port", k
			}
		}
	case set && (m.CertFile == "" || m.KeyFile == ""):
		return "the management API's HTTPS listener needs management.ssl.certfile and management.ssl.keyfile", "management.ssl.port"
	case m.VerifyPeer && m.CACertFile == "":
		return "verify_peer needs management.ssl.cacertfile, the CAs that sign client certificates", "management.ssl.verify"
	case m.FailIfNoPeerCert && !m.VerifyPeer:
		return "fail_if_no_peer_cert = true needs management.ssl.verify = verify_peer", "management.ssl.fail_if_no_peer_cert"
	}
	return "", ""
}
