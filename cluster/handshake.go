package cluster

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
)

// The handshake that opens every cluster TCP connection, before yamux
// starts (doc.go, "Wire"):
//
//	dialler  → acceptor  hello: magic "WRNC", version, 32-byte nonce
//	acceptor → dialler   hello: magic, version, 32-byte nonce
//	dialler  → acceptor  proof: HMAC-SHA256(secret, "warren cluster client" ‖ both nonces)
//	acceptor → dialler   status byte, then on success its own proof:
//	                     HMAC-SHA256(secret, "warren cluster server" ‖ both nonces)
//
// Every read is of a fixed size, so nothing a peer sends decides how much
// is allocated. The acceptor checks the magic as soon as its four bytes
// arrive, and proves itself only to a dialler that has proved itself first,
// so a stranger learns nothing about the secret.
const (
	handshakeMagic   = "WRNC"
	handshakeVersion = 1
	nonceSize        = 32
	helloSize        = len(handshakeMagic) + 1 + nonceSize
	proofSize        = sha256.Size

	statusOK     = 0
	statusRefuse = 1
)

var (
	// ErrBadSecret is returned by Dial when the peer refuses this node's
	// cluster secret, or proves a different one.
	ErrBadSecret = errors.New("cluster: the peer's cluster secret does not match ours")
	// errBadMagic is a connection that does not start with the magic.
	errBadMagic = errors.New("not a Warren cluster connection")
)

// errVersion is a peer speaking a handshake version other than ours.
type errVersion struct{ theirs byte }

func (e errVersion) Error() string {
	return fmt.Sprintf("peer speaks cluster protocol version %d, this node %d", e.theirs, handshakeVersion)
}

func newHello() ([]byte, []byte, error) {
	hello := make([]byte, helloSize)
	copy(hello, handshakeMagic)
	hello[len(handshakeMagic)] = handshakeVersion
	nonce := hello[len(handshakeMagic)+1:]
	if _, err := rand.Read(nonce); err != nil {
		return nil, nil, err
	}
	return hello, nonce, nil
}

// readHello reads a peer's hello: magic first, so anything else is
// refused after four bytes, then version and nonce.
func readHello(r io.Reader) (nonce []byte, err error) {
	buf := make([]byte, helloSize)
	if _, err := io.ReadFull(r, buf[:len(handshakeMagic)]); err != nil {
		return nil, err
	}
	if string(buf[:len(handshakeMagic)]) != handshakeMagic {
		return nil, errBadMagic
	}
	if _, err := io.ReadFull(r, buf[len(handshakeMagic):]); err != nil {
		return nil, err
	}
	if v := buf[len(handshakeMagic)]; v != handshakeVersion {
		return nil, errVersion{theirs: v}
	}
	return buf[len(handshakeMagic)+1:], nil
}

func proof(secret []byte, label string, clientNonce, serverNonce []byte) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(label))
	mac.Write(clientNonce)
	mac.Write(serverNonce)
	return mac.Sum(nil)
}

const (
	clientLabel = "warren cluster client"
	serverLabel = "warren cluster server"
)

// clientHandshake runs the dialler's side on c, whose deadline the caller
// has set.
func clientHandshake(c net.Conn, secret []byte) error {
	hello, cNonce, err := newHello()
	if err != nil {
		return err
	}
	if _, err := c.Write(hello); err != nil {
		return err
	}
	sNonce, err := readHello(c)
	if err != nil {
		return err
	}
	if _, err := c.Write(proof(secret, clientLabel, cNonce, sNonce)); err != nil {
		return err
	}
	reply := make([]byte, 1+proofSize)
	if _, err := io.ReadFull(c, reply[:1]); err != nil {
		if errors.Is(err, io.EOF) {
			return ErrBadSecret
		}
		return err
	}
	if reply[0] != statusOK {
		return ErrBadSecret
	}
	if _, err := io.ReadFull(c, reply[1:]); err != nil {
		return err
	}
	if !hmac.Equal(reply[1:], proof(secret, serverLabel, cNonce, sNonce)) {
		return ErrBadSecret
	}
	return nil
}

// serverHandshake runs the acceptor's side on c, whose deadline the caller
// has set. A dialler of another version is sent our hello, so that it can
// say which versions differ, before the error is returned.
func serverHandshake(c net.Conn, secret []byte) error {
	cNonce, err := readHello(c)
	var verr errVersion
	if err != nil && !errors.As(err, &verr) {
		return err
	}
	hello, sNonce, herr := newHello()
	if herr != nil {
		return herr
	}
	if _, werr := c.Write(hello); werr != nil || err != nil {
		return errors.Join(err, werr)
	}
	got := make([]byte, proofSize)
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if !hmac.Equal(got, proof(secret, clientLabel, cNonce, sNonce)) {
		_, _ = c.Write([]byte{statusRefuse})
		return ErrBadSecret
	}
	reply := append([]byte{statusOK}, proof(secret, serverLabel, cNonce, sNonce)...)
	_, err = c.Write(reply)
	return err
}
