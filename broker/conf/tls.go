package conf

import (
	"crypto/tls"
	"fmt"
)

// parseTLSVersion reads ssl_options.versions.N: tlsv1.2 or tlsv1.3.
// RabbitMQ also accepts tlsv1 and tlsv1.1, which Warren refuses.
func parseTLSVersion(v string) (uint16, string) {
	switch v {
	case "tlsv1.2":
		return tls.VersionTLS12, ""
	case "tlsv1.3":
		return tls.VersionTLS13, ""
	case "tlsv1", "tlsv1.1", "sslv3":
		return 0, fmt.Sprintf("%s is refused: Warren accepts TLS 1.2 and 1.3 only (tlsv1.2, tlsv1.3)", v)
	}
	return 0, fmt.Sprintf("%q is not a TLS version: want tlsv1.2 or tlsv1.3", clip(v))
}

// opensslCiphers maps the OpenSSL names of the TLS 1.2 suites Go
// implements, as RabbitMQ's ssl_options.ciphers writes them, to Go's ids.
var opensslCiphers = map[string]uint16{
	"ECDHE-ECDSA-AES128-GCM-SHA256": tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-RSA-AES128-GCM-SHA256":   tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-ECDSA-AES256-GCM-SHA384": tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-RSA-AES256-GCM-SHA384":   tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-ECDSA-CHACHA20-POLY1305": tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-RSA-CHACHA20-POLY1305":   tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-ECDSA-AES128-SHA256":     tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
	"ECDHE-RSA-AES128-SHA256":       tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
	"ECDHE-ECDSA-AES128-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	"ECDHE-RSA-AES128-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	"ECDHE-ECDSA-AES256-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
	"ECDHE-RSA-AES256-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	"ECDHE-RSA-DES-CBC3-SHA":        tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA,
	"AES128-GCM-SHA256":             tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
	"AES256-GCM-SHA384":             tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
	"AES128-SHA256":                 tls.TLS_RSA_WITH_AES_128_CBC_SHA256,
	"AES128-SHA":                    tls.TLS_RSA_WITH_AES_128_CBC_SHA,
	"AES256-SHA":                    tls.TLS_RSA_WITH_AES_256_CBC_SHA,
	"DES-CBC3-SHA":                  tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA,
}

// parseCipher reads ssl_options.ciphers.N: an OpenSSL name
// (ECDHE-RSA-AES256-GCM-SHA384) or an IANA name as Go spells it
// (TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, TLS_AES_128_GCM_SHA256). It
// reports whether the suite is a TLS 1.3 one. A suite Go does not
// implement (DHE, static ECDH, DSS, CCM …) is an error.
func parseCipher(v string) (id uint16, tls13 bool, msg string) {
	if id, ok := opensslCiphers[v]; ok {
		return id, false, ""
	}
	for _, s := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		if s.Name != v {
			continue
		}
		for _, ver := range s.SupportedVersions {
			if ver == tls.VersionTLS13 {
				return s.ID, true, ""
			}
		}
		for _, ver := range s.SupportedVersions {
			if ver == tls.VersionTLS12 {
				return s.ID, false, ""
			}
		}
		return 0, false, fmt.Sprintf("cipher suite %s is for TLS versions older than 1.2, which Warren refuses", v)
	}
	return 0, false, fmt.Sprintf("unknown or unsupported cipher suite %q: Warren's TLS (Go's) implements the ECDHE and RSA suites with AES-GCM, AES-CBC or ChaCha20-Poly1305, such as ECDHE-RSA-AES256-GCM-SHA384", clip(v))
}
