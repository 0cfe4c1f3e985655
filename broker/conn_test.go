package broker

import (
	"net"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

func TestHandshakeAndServerProperties(t *testing.T) {
	s := startServer(t)
	c := dial(t, s)
	if got := c.Properties["product"]; got != "Warren" {
		t.Errorf("product = %v", got)
	}
	caps, _ := c.Properties["capabilities"].(amqp.Table)
	for _, k := range []string{"publisher_confirms", "basic.nack", "consumer_cancel_notify", "direct_reply_to", "per_consumer_qos"} {
		if caps[k] != true {
			t.Errorf("capability %s = %v", k, caps[k])
		}
	}
	if c.Config.FrameSize != DefaultFrameMax || c.Config.ChannelMax != DefaultChannelMax {
		t.Errorf("tuned frame %d channels %d", c.Config.FrameSize, c.Config.ChannelMax)
	}
}

func TestBadProtocolHeaderIsAnsweredWithOurs(t *testing.T) {
	s := startServer(t)
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.Write([]byte("AMQP\x00\x00\x08\x00"))
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 16)
	n, _ := nc.Read(buf)
	if string(buf[:n]) != "AMQP\x00\x00\x09\x01" {
		t.Fatalf("got %q", buf[:n])
	}
}

func TestAuthFailure(t *testing.T) {
	s := startServer(t)
	_, err := amqp.Dial("amqp://guest:wrong@" + s.Addr().String() + "/")
	if err == nil {
		t.Fatal("dial succeeded")
	}
	// amqp091-go reports any failure between start-ok and tune as
	// ErrCredentials, whatever the broker's close said.
	if e, ok := err.(*amqp.Error); !ok || e.Code != amqp.AccessRefused {
		t.Fatalf("err = %#v", err)
	}
}

func TestUnknownVhost(t *testing.T) {
	s := startServer(t)
	_, err := amqp.Dial("amqp://guest:guest@" + s.Addr().String() + "/nope")
	e, ok := err.(*amqp.Error)
	if !ok || e.Code != amqp.NotAllowed || e.Reason != "NOT_ALLOWED - vhost nope not found" {
		t.Fatalf("err = %#v", err)
	}
}

func TestServerCloseTellsClients(t *testing.T) {
	s := startServer(t)
	c := dial(t, s)
	closed := c.NotifyClose(make(chan *amqp.Error, 1))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-closed:
		if e == nil || e.Code != amqp.ConnectionForced ||
			e.Reason != "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'" {
			t.Fatalf("close = %#v", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no connection.close")
	}
}

func TestChannelErrorsAndReopen(t *testing.T) {
	s := startServer(t)
	c := dial(t, s)
	ch := openChannel(t, c)
	_, err := ch.QueueDeclarePassive("missing", false, false, false, false, nil)
	e, ok := err.(*amqp.Error)
	if !ok || e.Code != amqp.NotFound || e.Reason != "NOT_FOUND - no queue 'missing' in vhost '/'" {
		t.Fatalf("err = %#v", err)
	}
	// The connection survives a soft error.
	ch2 := openChannel(t, c)
	if _, err := ch2.QueueDeclare("q", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
}

func TestSilentPeerIsDropped(t *testing.T) {
	s := startServer(t)
	nc := rawOpenHeartbeat(t, s.Addr().String(), 1)
	defer nc.Close()
	// The broker sends heartbeats, and drops us after two silent
	// intervals: reading ends with EOF within a few seconds.
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	buf := make([]byte, 512)
	sawHeartbeat := false
	for {
		n, err := nc.Read(buf)
		if n > 0 && buf[0] == 8 {
			sawHeartbeat = true
		}
		if err != nil {
			break
		}
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("dropped after %v", el)
	}
	if !sawHeartbeat {
		t.Error("no heartbeat from the broker")
	}
}

func TestHandshakeTimeout(t *testing.T) {
	s := startServer(t, func(c *Config) { c.HandshakeTimeout = 200 * time.Millisecond })
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Read(make([]byte, 8)); err == nil {
		t.Fatal("read succeeded")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("broker kept a silent socket open")
	}
}

func TestAMQPLAIN(t *testing.T) {
	s := startServer(t)
	c, err := amqp.DialConfig(url(s), amqp.Config{
		SASL: []amqp.Authentication{&amqp.AMQPlainAuth{Username: "guest", Password: "guest"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	_, err = amqp.DialConfig(url(s), amqp.Config{
		SASL: []amqp.Authentication{&amqp.AMQPlainAuth{Username: "guest", Password: "nope"}},
	})
	if amqpCode(err) != amqp.AccessRefused {
		t.Fatalf("err %v", err)
	}
}

func TestCredentials(t *testing.T) {
	for _, tc := range []struct {
		mech, resp, user, pass string
		ok                     bool
	}{
		{"PLAIN", "\x00guest\x00secret", "guest", "secret", true},
		{"PLAIN", "authz\x00guest\x00secret", "guest", "secret", true},
		{"PLAIN", "guest\x00secret", "", "", false},
		{"EXTERNAL", "", "", "", false},
	} {
		u, p, ok := credentials(tc.mech, []byte(tc.resp))
		if u != tc.user || p != tc.pass || ok != tc.ok {
			t.Errorf("%s %q: got %q %q %v", tc.mech, tc.resp, u, p, ok)
		}
	}
}
