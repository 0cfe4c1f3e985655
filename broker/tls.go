package broker

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"
)

// TLSConfig is RabbitMQ's ssl_options for the AMQPS listeners, and the
// settings of the EXTERNAL mechanism (ssl_cert_login_*).
type TLSConfig struct {
	// CertFile and KeyFile are the server's certificate chain and private
	// key (PEM); CACertFile the CAs that sign client certificates. They
	// are read again, without a restart, when they change (ReloadCheck).
	CertFile, KeyFile, CACertFile string
	// VerifyPeer asks for a client certificate and verifies one that is
	// sent against CACertFile (verify_peer; RabbitMQ's default is
	// verify_none). FailIfNoPeerCert also refuses a client that sends none.
	VerifyPeer, FailIfNoPeerCert bool
	// Versions are the TLS versions accepted, tls.VersionTLS12 and
	// tls.VersionTLS13 only; empty means both.
	Versions []uint16
	// CipherSuites are the TLS 1.2 suites accepted, in Go's ids; empty
	// means Go's defaults. Go always offers its TLS 1.3 suites.
	CipherSuites []uint16
	// HandshakeTimeout bounds the TLS handshake (RabbitMQ's
	// ssl_handshake_timeout); zero means 5 s.
	HandshakeTimeout time.Duration
	// LoginFrom is where EXTERNAL finds the user name in a client
	// certificate (ssl_cert_login_from): "distinguished_name" (the
	// default, as RabbitMQ's), "common_name" or
	// "subject_alternative_name", the SANIndex-th (from 0) of type SANType
	// ("dns", the default, "ip", "email" or "uri").
	LoginFrom, SANType string
	SANIndex           int
	// ReloadCheck is the shortest time between two checks of the files'
	// modification times; zero means a second.
	ReloadCheck time.Duration
}

// defaultTLSHandshakeTimeout is RabbitMQ's ssl_handshake_timeout.
const defaultTLSHandshakeTimeout = 5 * time.Second

// withDefaults fills in the zero fields.
func (t TLSConfig) withDefaults() TLSConfig {
	if t.HandshakeTimeout <= 0 {
		t.HandshakeTimeout = defaultTLSHandshakeTimeout
	}
	if t.LoginFrom == "" {
		t.LoginFrom = "distinguished_name"
	}
	if t.SANType == "" {
		t.SANType = "dns"
	}
	if t.ReloadCheck <= 0 {
		t.ReloadCheck = time.Second
	}
	return t
}

// certStore serves the TLS configuration of the AMQPS listeners and reads
// the certificate, key and CA files again when their modification time or
// size changes, checking at most every ReloadCheck. A file that cannot be
// loaded keeps the previous configuration and is logged once per change.
// mu guards everything below it; it is a leaf, held while the files are
// read by the handshake that finds them changed.
type certStore struct {
	cfg TLSConfig
	log *zap.Logger

	mu      sync.Mutex
	checked time.Time
	stamps  []fileStamp
	conf    *tls.Config
}

// fileStamp is what tells a changed file: its modification time and size.
type fileStamp struct {
	mod  time.Time
	size int64
}

// newCertStore loads the files once; an error stops the start.
func newCertStore(cfg TLSConfig, log *zap.Logger) (*certStore, error) {
	s := &certStore{cfg: cfg.withDefaults(), log: log}
	if s.cfg.CertFile == "" || s.cfg.KeyFile == "" {
		return nil, errors.New("broker: TLS listeners need a certificate file and a key file")
	}
	if s.cfg.VerifyPeer && s.cfg.CACertFile == "" {
		return nil, errors.New("broker: TLS verify_peer needs a CA certificate file")
	}
	for _, v := range s.cfg.Versions {
		if v != tls.VersionTLS12 && v != tls.VersionTLS13 {
			return nil, fmt.Errorf("broker: TLS version %#x refused: TLS 1.2 and 1.3 only", v)
		}
	}
	s.stamps = s.stat()
	conf, err := s.load()
	if err != nil {
		return nil, fmt.Errorf("broker: TLS: %w", err)
	}
	s.conf, s.checked = conf, time.Now()
	return s, nil
}

// files are the files the configuration is read from.
func (s *certStore) files() []string {
	f := []string{s.cfg.CertFile, s.cfg.KeyFile}
	if s.cfg.CACertFile != "" {
		f = append(f, s.cfg.CACertFile)
	}
	return f
}

// stat returns the files' stamps (zero for a file that cannot be read).
func (s *certStore) stat() []fileStamp {
	out := make([]fileStamp, 0, 3)
	for _, f := range s.files() {
		var st fileStamp
		if fi, err := os.Stat(f); err == nil {
			st = fileStamp{mod: fi.ModTime(), size: fi.Size()}
		}
		out = append(out, st)
	}
	return out
}

// load builds a tls.Config from the files.
func (s *certStore) load() (*tls.Config, error) {
	cert, err := loadKeyPair(s.cfg.CertFile, s.cfg.KeyFile)
	if err != nil {
		return nil, err
	}
	conf := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		MaxVersion:   tls.VersionTLS13,
		CipherSuites: s.cfg.CipherSuites,
		ClientAuth:   tls.NoClientCert,
	}
	if len(s.cfg.Versions) > 0 {
		conf.MinVersion, conf.MaxVersion = slices.Min(s.cfg.Versions), slices.Max(s.cfg.Versions)
	}
	if s.cfg.CACertFile != "" {
		pem, err := os.ReadFile(s.cfg.CACertFile)
		if err != nil {
			return nil, &TLSFileError{File: TLSCACertFile, Path: s.cfg.CACertFile, Err: err}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &TLSFileError{File: TLSCACertFile, Path: s.cfg.CACertFile, Err: errors.New("no PEM certificate found")}
		}
		conf.ClientCAs = pool
	}
	switch {
	case s.cfg.VerifyPeer && s.cfg.FailIfNoPeerCert:
		conf.ClientAuth = tls.RequireAndVerifyClientCert
	case s.cfg.VerifyPeer:
		conf.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return conf, nil
}

// current returns the configuration for a new handshake, reloading the
// files first if they changed since the last check.
func (s *certStore) current() *tls.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if now.Sub(s.checked) < s.cfg.ReloadCheck {
		return s.conf
	}
	s.checked = now
	stamps := s.stat()
	if slices.Equal(stamps, s.stamps) {
		return s.conf
	}
	s.stamps = stamps
	conf, err := s.load()
	if err != nil {
		s.log.Error("TLS files changed but cannot be loaded: keeping the previous certificate", zap.Error(err))
		return s.conf
	}
	s.conf = conf
	s.log.Info("TLS certificate reloaded", zap.String("certfile", s.cfg.CertFile))
	return conf
}

// ServerTLSConfig returns the tls.Config of a server listener other than
// AMQPS (the management API's HTTPS one) configured by cfg's files,
// VerifyPeer, FailIfNoPeerCert, Versions, CipherSuites and ReloadCheck,
// as the AMQPS listeners are: every handshake takes the files' current
// certificate, read again when they change, and a file that no longer
// loads keeps the previous one and is logged on log. A file that does not
// load now is a *TLSFileError.
func ServerTLSConfig(cfg TLSConfig, log *zap.Logger) (*tls.Config, error) {
	if log == nil {
		log = zap.NewNop()
	}
	s, err := newCertStore(cfg, log)
	if err != nil {
		return nil, err
	}
	return s.listenerConfig(), nil
}

// The files of a TLSConfig, as TLSFileError names them (ssl_options'
// keys).
const (
	TLSCertFile   = "certfile"
	TLSKeyFile    = "keyfile"
	TLSCACertFile = "cacertfile"
)

// TLSFileError is a TLS file that does not load: File is TLSCertFile,
// TLSKeyFile or TLSCACertFile, Path its path.
type TLSFileError struct {
	File, Path string
	Err        error
}

func (e *TLSFileError) Error() string {
	return fmt.Sprintf("%s %s: %v", e.File, e.Path, e.Err)
}

func (e *TLSFileError) Unwrap() error { return e.Err }

// loadKeyPair reads a certificate chain and its key, blaming the file at
// fault: the certificate file when it holds no certificate, else the
// key.
func loadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, &TLSFileError{File: TLSCertFile, Path: certFile, Err: err}
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, &TLSFileError{File: TLSKeyFile, Path: keyFile, Err: err}
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err == nil {
		return cert, nil
	}
	if !holdsCertificate(certPEM) {
		return tls.Certificate{}, &TLSFileError{File: TLSCertFile, Path: certFile, Err: err}
	}
	return tls.Certificate{}, &TLSFileError{File: TLSKeyFile, Path: keyFile, Err: err}
}

// holdsCertificate reports whether b's first PEM certificate parses.
func holdsCertificate(b []byte) bool {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return false
		}
		if blk.Type == "CERTIFICATE" {
			_, err := x509.ParseCertificate(blk.Bytes)
			return err == nil
		}
	}
}

// listenerConfig is the tls.Config of a listener: every handshake takes
// the store's current configuration.
func (s *certStore) listenerConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return s.current(), nil
		},
	}
}
