package broker

import (
	"context"
	"errors"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue/store"
)

// vhostURL is the URL of vhost on s.
func vhostURL(s *Server, vhost string) string {
	return "amqp://guest:guest@" + s.Addr().String() + "/" + neturl.PathEscape(vhost)
}

// TestVhostAddDelete: AddVhost makes a vhost clients can open, with its
// own exchanges and queues; DeleteVhost closes its connections with 320
// "vhost '...' is deleted", as RabbitMQ does, removes its queues (and their
// logs), exchanges and bindings, and leaves the other vhosts alone. Both
// survive a restart.
func TestVhostAddDelete(t *testing.T) {
	dir := t.TempDir()
	s := startAt(t, dir)
	ctx := context.Background()
	if _, err := amqp.Dial(vhostURL(s, "v2")); err == nil {
		t.Fatal("opened a vhost that does not exist")
	}
	if err := s.AddVhost(ctx, "v2"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddVhost(ctx, "v2"); err != nil {
		t.Fatalf("adding it again: %v", err)
	}
	if _, err := amqp.Dial(vhostURL(s, "v2")); err == nil || !strings.Contains(err.Error(), "access to vhost 'v2' refused for user 'guest'") {
		t.Fatalf("opened a vhost without permissions in it: %v", err)
	}
	if err := s.SetPermissions(ctx, "guest", "v2", Permission{Configure: ".*", Write: ".*", Read: ".*"}); err != nil {
		t.Fatal(err)
	}
	c2, err := amqp.Dial(vhostURL(s, "v2"))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	ch2 := openChannel(t, c2)
	if err := ch2.Confirm(false); err != nil {
		t.Fatal(err)
	}
	confirms := ch2.NotifyPublish(make(chan amqp.Confirmation, 1))
	if err := ch2.ExchangeDeclare("v2-x", "fanout", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ch2.QueueDeclare("v2-q", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch2.QueueBind("v2-q", "", "v2-x", false, nil); err != nil {
		t.Fatal(err)
	}
	confirmed(t, ch2, confirms, "v2-x", "", amqp.Publishing{DeliveryMode: amqp.Persistent, Body: []byte("m")})
	logDir := filepath.Join(dir, queuesDir, store.LogID("v2", "v2-q"))
	if _, err := os.Stat(logDir); err != nil {
		t.Fatalf("v2-q's log: %v", err)
	}
	// A queue of the same name in / is another queue.
	ch := openChannel(t, dial(t, s))
	if _, err := ch.QueueDeclare("v2-q", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = startAt(t, dir)
	c2, err = amqp.Dial(vhostURL(s, "v2"))
	if err != nil {
		t.Fatalf("v2 after a restart: %v", err)
	}
	closed := c2.NotifyClose(make(chan *amqp.Error, 1))
	ch2 = openChannel(t, c2)
	if q, err := ch2.QueueDeclarePassive("v2-q", true, false, false, false, nil); err != nil || q.Messages != 1 {
		t.Fatalf("v2-q after a restart: %+v %v", q, err)
	}
	other := dial(t, s)

	if err := s.DeleteVhost(ctx, "v2"); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-closed:
		if e == nil || e.Code != 320 || e.Reason != "CONNECTION_FORCED - vhost 'v2' is deleted" {
			t.Fatalf("connection closed with %v", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the vhost's connection stayed open")
	}
	if other.IsClosed() {
		t.Error("a connection to / was closed")
	}
	if _, err := os.Stat(logDir); !os.IsNotExist(err) {
		t.Errorf("v2-q's log after the vhost was deleted: %v", err)
	}
	if _, err := amqp.Dial(vhostURL(s, "v2")); err == nil {
		t.Error("opened a deleted vhost")
	}
	var pe *protocol.Error
	if err := s.DeleteVhost(ctx, "v2"); !errors.As(err, &pe) || pe.Code != protocol.NotFound {
		t.Errorf("deleting it again: %v", err)
	}
	ch = openChannel(t, other)
	if _, err := ch.QueueDeclarePassive("v2-q", true, false, false, false, nil); err != nil {
		t.Errorf("the queue of the same name in /: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Gone after a restart too; added again, it is empty.
	s = startAt(t, dir)
	if s.vhost("v2") != nil {
		t.Fatal("the deleted vhost came back")
	}
	if err := s.AddVhost(ctx, "v2"); err != nil {
		t.Fatal(err)
	}
	// Its permissions went with the deleted vhost, as in RabbitMQ.
	if err := s.SetPermissions(ctx, "guest", "v2", Permission{Configure: ".*", Write: ".*", Read: ".*"}); err != nil {
		t.Fatal(err)
	}
	c2, err = amqp.Dial(vhostURL(s, "v2"))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	ch2 = openChannel(t, c2)
	if _, err := ch2.QueueDeclarePassive("v2-q", true, false, false, false, nil); amqpCode(err) != 404 {
		t.Errorf("v2-q in the new v2: %v", err)
	}
	ch2 = openChannel(t, c2)
	if err := ch2.ExchangeDeclarePassive("amq.topic", "topic", true, false, false, false, nil); err != nil {
		t.Errorf("the new v2 has no amq.topic: %v", err)
	}
}

// TestDefaultVhostAddedOnce: "/" is added by the same command as any
// vhost, at the first start only; once deleted it stays deleted.
func TestDefaultVhostAddedOnce(t *testing.T) {
	dir := t.TempDir()
	s := startAt(t, dir)
	if s.vhost("/") == nil {
		t.Fatal("no default vhost at the first start")
	}
	if err := s.DeleteVhost(context.Background(), "/"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = startAt(t, dir)
	if s.vhost("/") != nil {
		t.Fatal("the deleted default vhost was added again")
	}
}

// TestVhostNameChecked: names a client could not open are refused.
func TestVhostNameChecked(t *testing.T) {
	s := startServer(t)
	long := string(make([]byte, 256))
	for _, name := range []string{"", long} {
		if err := s.AddVhost(context.Background(), name); err == nil {
			t.Errorf("AddVhost(%d bytes) accepted", len(name))
		}
	}
}
