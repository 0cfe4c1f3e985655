package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/broker"
	"github.com/warrenmq/warren/broker/conf"
)

// fileManagementSSLListen is --management-ssl-listen's default from the
// file: management.ssl.ip and .port (every interface without an ip);
// "" when the file sets no port.
func fileManagementSSLListen(f *conf.Config) string {
	if !f.Has("management.ssl.port") {
		return ""
	}
	return net.JoinHostPort(f.ManagementSSL.IP, strconv.Itoa(f.ManagementSSL.Port))
}

// managementTLS loads the management API's HTTPS certificate, key and CAs
// (management.ssl.*), reloaded when the files change as the AMQPS
// listeners' are; nil without an HTTPS listener. A file that does not
// load is an error naming its key and line.
func (o *options) managementTLS(log *zap.Logger) (*tls.Config, error) {
	if o.mgmtSSLListen == "" {
		return nil, nil
	}
	m := o.file.ManagementSSL.TLS
	if m.CertFile == "" || m.KeyFile == "" {
		return nil, errors.New("--management-ssl-listen (WARREN_MANAGEMENT_SSL_LISTEN) needs management.ssl.certfile and management.ssl.keyfile in the configuration file")
	}
	c, err := broker.ServerTLSConfig(broker.TLSConfig{CertFile: m.CertFile, KeyFile: m.KeyFile, CACertFile: m.CACertFile,
		VerifyPeer: m.VerifyPeer, FailIfNoPeerCert: m.FailIfNoPeerCert, Versions: m.Versions}, log)
	var fe *broker.TLSFileError
	if errors.As(err, &fe) {
		key := "management.ssl." + fe.File
		if strings.Contains(fe.Err.Error(), fe.Path) { // an *fs.PathError names it
			return nil, fmt.Errorf("%s:%d: %s: %w", o.fileName, o.file.Line(key), key, fe.Err)
		}
		return nil, fmt.Errorf("%s:%d: %s: %s: %w", o.fileName, o.file.Line(key), key, fe.Path, fe.Err)
	}
	return c, err
}
