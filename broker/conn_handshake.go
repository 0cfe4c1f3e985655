package broker

import (
	"runtime"
	"strings"
	"time"

	"github.com/warrenmq/warren/protocol"
	"go.uber.org/zap"
)

// serverProperties are sent in connection.start.
func (c *conn) serverProperties() protocol.Table {
	return protocol.Table{
		"product":      "Warren",
		"version":      Version,
		"platform":     "Go " + runtime.Version(),
		"copyright":    "Copyright (c) the Warren authors",
		"information":  "Licensed under the Apache License 2.0. Speaks AMQP 0-9-1 as RabbitMQ does.",
		"cluster_name": c.srv.cfg.ClusterName,
		"capabilities": protocol.Table{
			"publisher_confirms":           true,
			"exchange_exchange_bindings":   true,
			"basic.nack":                   true,
			"consumer_cancel_notify":       true,
			"connection.blocked":           true,
			"consumer_priorities":          true,
			"authentication_failure_close": true,
			"per_consumer_qos":             true,
			"direct_reply_to":              true,
		},
	}
}

// sendStart sends connection.start.
func (c *conn) sendStart() {
	c.state = stateStartOk
	c.sendMethod(0, &protocol.ConnectionStart{
		VersionMajor:     0,
		VersionMinor:     9,
		ServerProperties: c.serverProperties(),
		Mechanisms:       strings.Join(c.mechanisms(), " "),
		Locales:          "en_US",
	})
}

// handshake handles a channel-0 method before connection.open-ok.
func (c *conn) handshake(m protocol.Method) error {
	switch c.state {
	case stateStartOk:
		if m, ok := m.(*protocol.ConnectionStartOk); ok {
			return c.startOk(m)
		}
		return protocol.NewError(protocol.ChannelError, "unexpected method in connection state starting").For(m)
	case stateTuneOk:
		if m, ok := m.(*protocol.ConnectionTuneOk); ok {
			return c.tuneOk(m)
		}
		return protocol.NewError(protocol.ChannelError, "unexpected method in connection state tuning").For(m)
	case stateOpen:
		if m, ok := m.(*protocol.ConnectionOpen); ok {
			return c.open(m)
		}
		return protocol.NewError(protocol.ChannelError, "unexpected method in connection state opening").For(m)
	}
	return protocol.NewError(protocol.ChannelError, "unexpected method").For(m)
}

func (c *conn) startOk(m *protocol.ConnectionStartOk) error {
	c.clientProps = m.ClientProperties
	if caps, ok := m.ClientProperties["capabilities"].(protocol.Table); ok {
		c.capabilities = caps
		c.cancelNotify, _ = caps["consumer_cancel_notify"].(bool)
	}
	if name, ok := m.ClientProperties["connection_name"].(string); ok {
		c.clientName = name
	}
	if text, ok := c.checkMechanism(m.Mechanism); !ok {
		return protocol.NewError(protocol.CommandInvalid, "%s", text).For(m)
	}
	user, reason, err := c.login(m)
	if err != nil {
		return err
	}
	if reason != "" {
		return c.refuseLogin(m.Mechanism, user, reason)
	}
	c.user = user
	c.state = stateTuneOk
	cfg := &c.srv.cfg
	c.sendMethod(0, &protocol.ConnectionTune{
		ChannelMax: cfg.ChannelMax,
		FrameMax:   cfg.FrameMax,
		Heartbeat:  uint16(cfg.Heartbeat / time.Second),
	})
	return nil
}

// login checks the credentials of a start-ok whose mechanism was
// offered: it returns the user, and why the login is refused (empty when
// it is not), or a protocol error for a malformed response.
func (c *conn) login(m *protocol.ConnectionStartOk) (user, refusal string, err error) {
	if m.Mechanism == "EXTERNAL" {
		if user, refusal = c.externalUser(); refusal == "" && !c.srv.userExists(user) {
			refusal = "user '" + user + "' - invalid credentials"
		}
	} else {
		pass, ok := "", false
		if user, pass, ok = credentials(m.Mechanism, []byte(m.Response)); !ok {
			return "", "", protocol.NewError(protocol.SyntaxError, "%s: malformed response", m.Mechanism).For(m)
		}
		refusal = c.srv.authenticate(user, pass)
	}
	if refusal == "" {
		refusal = c.loopbackRefusal(user)
	}
	return user, refusal, nil
}

// loopbackRefusal refuses a loopback-only user connecting from elsewhere.
func (c *conn) loopbackRefusal(user string) string {
	if c.srv.loopbackOnly(user) && !c.loopback {
		return "user '" + user + "' can only connect via localhost"
	}
	return ""
}

func (c *conn) tuneOk(m *protocol.ConnectionTuneOk) error {
	cfg := &c.srv.cfg
	if err := negotiate("frame_max", minFrameMax, uint64(cfg.FrameMax), uint64(m.FrameMax)); err != nil {
		return err
	}
	if err := negotiate("channel_max", 1, uint64(cfg.ChannelMax), uint64(m.ChannelMax)); err != nil {
		return err
	}
	c.frameMax = m.FrameMax
	c.channelMax = m.ChannelMax
	c.heartbeat = time.Duration(m.Heartbeat) * time.Second
	c.fr.SetFrameMax(m.FrameMax)
	if c.heartbeat > 0 {
		c.hbNanos.Store(int64(c.heartbeat))
		c.setTick(c.heartbeat / 2)
	}
	c.state = stateOpen
	return nil
}

// negotiate checks a tune-ok value as rabbit_reader does: not below the
// minimum, not zero (no limit) or above the server's value.
func negotiate(field string, minimum, server, client uint64) error {
	tune := &protocol.ConnectionTune{}
	detail := ""
	if field == "channel_max" && client == 0 {
		detail = " (no limit)"
	}
	if client != 0 && client < minimum {
		return protocol.NewError(protocol.NotAllowed, "negotiated %s = %d%s is lower than the minimum allowed value (%d)",
			field, client, detail, minimum).For(tune)
	}
	if server != 0 && (client == 0 || client > server) {
		return protocol.NewError(protocol.NotAllowed, "negotiated %s = %d%s is higher than the maximum allowed value (%d)",
			field, client, detail, server).For(tune)
	}
	return nil
}

func (c *conn) open(m *protocol.ConnectionOpen) error {
	vh := c.srv.vhost(m.VirtualHost)
	if vh == nil {
		return protocol.NewError(protocol.NotAllowed, "vhost %s not found", m.VirtualHost).For(m)
	}
	if err := c.srv.admit(vh, c.user); err != nil {
		return err.For(m)
	}
	c.vh = vh
	c.state = stateRunning
	c.log = c.log.With(zap.String("vhost", vh.name))
	c.nc.SetReadDeadline(time.Time{})
	c.sendMethod(0, &protocol.ConnectionOpenOk{})
	c.srv.churn.connectionsOpened.Add(1)
	c.opened.Store(true)
	if c.srv.vhost(vh.name) != vh {
		// Deleted while opening, after Server.removeVhost looked for its
		// connections: this one closes itself.
		c.closeWith(protocol.NewError(protocol.ConnectionForced, "vhost '%s' is deleted", vh.name))
		return nil
	}
	c.log.Info("connection opened", zap.String("user", c.user), zap.String("connection_name", c.clientName))
	return nil
}
