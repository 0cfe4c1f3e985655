package broker

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"slices"
	"strings"
)

// The EXTERNAL mechanism, as RabbitMQ's rabbitmq_auth_mechanism_ssl: the
// user is named by the client's verified TLS certificate, and the login
// succeeds if that user exists; the start-ok response is ignored. As in
// RabbitMQ, EXTERNAL is offered on every TLS connection when
// Config.AuthMechanisms has it (never on a plain one), and a TLS client
// without a certificate is refused at login with a reason in the log,
// rather than left without a mechanism to try.

// knownMechanisms are the mechanisms Warren implements.
var knownMechanisms = []string{"PLAIN", "AMQPLAIN", "EXTERNAL"}

// mechanisms are the mechanisms offered to this connection, in
// Config.AuthMechanisms order.
func (c *conn) mechanisms() []string {
	out := make([]string, 0, len(c.srv.cfg.AuthMechanisms))
	for _, m := range c.srv.cfg.AuthMechanisms {
		if m != "EXTERNAL" || c.tls != nil {
			out = append(out, m)
		}
	}
	return out
}

// checkMechanism answers a start-ok's mechanism as rabbit_reader does: one
// Warren does not know is "unknown", one it knows but did not offer
// "invalid", both 503 COMMAND_INVALID.
func (c *conn) checkMechanism(m string) (string, bool) {
	switch {
	case !slices.Contains(knownMechanisms, m):
		return fmt.Sprintf("unknown authentication mechanism '%s'", m), false
	case !slices.Contains(c.mechanisms(), m):
		return fmt.Sprintf("invalid authentication mechanism '%s'", m), false
	}
	return "", true
}

// externalUser returns the user name the connection's client certificate
// gives, or a reason for refusing the login (RabbitMQ's words).
func (c *conn) externalUser() (user, refusal string) {
	if c.tls == nil {
		return "", "not a TLS-enabled connection"
	}
	if len(c.tls.PeerCertificates) == 0 {
		return "", "connection peer presented no TLS (x.509) certificate"
	}
	cfg := c.srv.certs.cfg
	if !cfg.VerifyPeer {
		c.log.Warn("TLS peer verification (authentication) is disabled, ssl_options.verify value used: verify_none")
		return "", "TLS configuration is unsafe"
	}
	name, ok := certUserName(c.tls.PeerCertificates[0], cfg.LoginFrom, cfg.SANType, cfg.SANIndex)
	if !ok {
		return "", "no name found"
	}
	return name, ""
}

// certUserName is the user name in cert as RabbitMQ's ssl_cert_login_from
// takes it: the subject's distinguished name, its common name(s) joined
// with commas, or the index-th subject alternative name of a type.
func certUserName(cert *x509.Certificate, from, sanType string, index int) (string, bool) {
	switch from {
	case "common_name":
		var cns []string
		for _, a := range subjectAttributes(cert) {
			if a.Type.Equal(oidCommonName) {
				cns = append(cns, attributeString(a.Value))
			}
		}
		return strings.Join(cns, ","), len(cns) > 0
	case "subject_alternative_name":
		var sans []string
		switch sanType {
		case "dns":
			sans = cert.DNSNames
		case "email":
			sans = cert.EmailAddresses
		case "ip":
			for _, ip := range cert.IPAddresses {
				sans = append(sans, ip.String())
			}
		case "uri":
			for _, u := range cert.URIs {
				sans = append(sans, u.String())
			}
		}
		if index < 0 || index >= len(sans) {
			return "", false
		}
		return sans[index], true
	}
	return distinguishedName(cert), true
}

var oidCommonName = asn1.ObjectIdentifier{2, 5, 4, 3}

// subjectAttributes are the attributes of cert's subject in the order
// of the certificate.
func subjectAttributes(cert *x509.Certificate) []pkix.AttributeTypeAndValue {
	var seq pkix.RDNSequence
	if _, err := asn1.Unmarshal(cert.RawSubject, &seq); err != nil {
		return nil
	}
	var out []pkix.AttributeTypeAndValue
	for _, rdn := range seq {
		out = append(out, rdn...)
	}
	return out
}

// rdnNames are the attribute names RabbitMQ writes in a distinguished
// name (rabbit_cert_info); others are written as a dotted OID.
var rdnNames = map[string]string{
	"2.5.4.4": "SN", "2.5.4.42": "GIVENNAME", "2.5.4.43": "INITIALS", "2.5.4.44": "GENERATIONQUALIFIER",
	"2.5.4.3": "CN", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.12": "TITLE",
	"2.5.4.6": "C", "2.5.4.5": "SERIALNUMBER", "2.5.4.65": "PSEUDONYM", "0.9.2342.19200300.100.1.25": "DC",
	"1.2.840.113549.1.9.1": "EMAILADDRESS", "2.5.4.9": "STREET", "0.9.2342.19200300.100.1.1": "UID",
}

// distinguishedName writes cert's subject as RabbitMQ does: the RDNs in
// reverse order (RFC 4514), joined by commas, the attributes of one RDN
// by "+", each TYPE=value with RabbitMQ's escaping.
func distinguishedName(cert *x509.Certificate) string {
	var seq pkix.RDNSequence
	if _, err := asn1.Unmarshal(cert.RawSubject, &seq); err != nil {
		return ""
	}
	rdns := make([]string, 0, len(seq))
	for i := len(seq) - 1; i >= 0; i-- {
		attrs := make([]string, 0, len(seq[i]))
		for _, a := range seq[i] {
			name, ok := rdnNames[a.Type.String()]
			if !ok {
				name = a.Type.String()
			}
			attrs = append(attrs, name+"="+escapeRDN(attributeString(a.Value)))
		}
		rdns = append(rdns, strings.Join(attrs, "+"))
	}
	return strings.Join(rdns, ",")
}

// attributeString is an attribute's value as text.
func attributeString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// escapeRDN escapes an attribute value as RabbitMQ does: a leading space
// or #, a trailing space, and " + , ; < > \ get a backslash; bytes below
// 32 or from 126 up are written as \XX.
func escapeRDN(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		ch := v[i]
		switch {
		case i == 0 && (ch == ' ' || ch == '#'), i == len(v)-1 && ch == ' ', strings.IndexByte("\"+,;<>\\", ch) >= 0:
			b.WriteByte('\\')
			b.WriteByte(ch)
		case ch < 32 || ch >= 126:
			fmt.Fprintf(&b, "\\%02X", ch)
		default:
			b.WriteByte(ch)
		}
	}
	return b.String()
}
