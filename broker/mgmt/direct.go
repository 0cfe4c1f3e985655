package mgmt

import (
	"errors"
	"fmt"
	"net"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/protocol"
)

// Objects changed through the API are changed as rabbit_mgmt_util's
// direct_request and with_channel change them: over an AMQP connection
// of the request's user to the node itself, so that the broker's own
// permission checks, equivalence rules and error texts apply. The
// connection is one end of a net.Pipe served by Broker.ServeConn; it
// lives for one request, bounded by the request's deadline, and is
// closed (channel, then connection) before the answer is written.

// directTimeout bounds a request's AMQP conversation when its context
// has no deadline.
const directTimeout = requestTimeout

// pipeEnd is the broker's end of an in-process connection: its peer is
// the HTTP client (which decides loopback_users as the login did), and
// the broker does not list it among the node's connections.
type pipeEnd struct {
	net.Conn
	peer net.Addr
}

// RemoteAddr is the HTTP client's address.
func (p pipeEnd) RemoteAddr() net.Addr { return p.peer }

// DirectConnection marks the connection as the node's own.
func (pipeEnd) DirectConnection() bool { return true }

// direct is an open in-process connection and its one channel.
type direct struct {
	conn *amqp.Connection
	ch   *amqp.Channel
}

// dial opens a connection to vhost as the request's user, and a channel.
func (s *Server) dial(r *request, vhost string) (*direct, *apiError) {
	client, server := net.Pipe()
	peer := remoteAddr(r.Request)
	if peer == nil {
		peer = server.RemoteAddr()
	}
	deadline, ok := r.Context().Deadline()
	if !ok {
		deadline = time.Now().Add(directTimeout)
	}
	client.SetDeadline(deadline)
	if err := s.b.ServeConn(pipeEnd{Conn: server, peer: peer}); err != nil {
		client.Close()
		return nil, internalError("the node is shutting down")
	}
	conn, err := amqp.Open(client, amqp.Config{
		SASL:       []amqp.Authentication{&amqp.PlainAuth{Username: r.user.Name, Password: r.password}},
		Vhost:      vhost,
		Heartbeat:  0,
		Locale:     "en_US",
		Properties: amqp.Table{"product": "Warren management API", "connection_name": "management API request"},
	})
	if err != nil {
		client.Close()
		return nil, openError(err)
	}
	ch, err := conn.Channel()
	if err != nil {
		conn.Close()
		return nil, channelError(err)
	}
	return &direct{conn: conn, ch: ch}, nil
}

// close ends the channel, then the connection; the broker has requeued
// what the channel left unacknowledged when its close-ok arrives.
func (d *direct) close() {
	d.ch.Close()
	d.conn.Close()
}

// openError answers a failed connection: a refused login or vhost is
// 401 "Access refused.", as with_channel answers it.
func openError(err error) *apiError {
	var ae *amqp.Error
	if errors.Is(err, amqp.ErrCredentials) || (errors.As(err, &ae) &&
		(ae.Code == protocol.AccessRefused || ae.Code == protocol.NotAllowed)) {
		return notAuthorised("Access refused.")
	}
	return internalError("could not open a connection to the node: " + err.Error())
}

// directError answers a method the broker refused as direct_request
// does: not found 404 and refusals 401 "Access refused." with the
// explanation alone (without "NOT_FOUND - "), anything else 400.
func directError(err error) *apiError {
	var ae *amqp.Error
	if errors.As(err, &ae) {
		return fromAMQP(uint16(ae.Code), ae.Reason)
	}
	return internalError(err.Error())
}

// channelError answers a channel the broker closed as with_channel does:
// not found 404 and access refused 401 with the whole reply text, any
// other code 400 "CODE TEXT" ("406 PRECONDITION_FAILED - …").
func channelError(err error) *apiError {
	var ae *amqp.Error
	if !errors.As(err, &ae) {
		return internalError(err.Error())
	}
	switch ae.Code {
	case protocol.NotFound:
		return &apiError{status: 404, kind: "not_found", reason: ae.Reason}
	case protocol.AccessRefused:
		return notAuthorised(ae.Reason)
	}
	return badRequest(fmt.Sprintf("%d %s", ae.Code, ae.Reason))
}

// withDirect runs f on a channel of the path's vhost and closes the
// connection after it.
func (s *Server) withDirect(r *request, f func(ch *amqp.Channel) (reply, *apiError)) (reply, *apiError) {
	d, aerr := s.dial(r, r.path("vhost"))
	if aerr != nil {
		return reply{}, aerr
	}
	defer d.close()
	return f(d.ch)
}
