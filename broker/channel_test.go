package broker

import (
	"context"
	"fmt"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

func publish(t testing.TB, ch *amqp.Channel, x, key string, msg amqp.Publishing) {
	t.Helper()
	if err := ch.PublishWithContext(context.Background(), x, key, false, false, msg); err != nil {
		t.Fatal(err)
	}
}

func TestPublishConsumeRoundTrip(t *testing.T) {
	s := startServer(t)
	c := dial(t, s)
	ch := openChannel(t, c)
	q, err := ch.QueueDeclare("", false, false, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Name) != len("amq.gen-")+22 {
		t.Errorf("server-named queue %q", q.Name)
	}
	// A body larger than the frame max is split and reassembled.
	big := make([]byte, 300_000)
	for i := range big {
		big[i] = byte(i)
	}
	publish(t, ch, "", q.Name, amqp.Publishing{Body: []byte("hello"), ContentType: "text/plain", Headers: amqp.Table{"k": "v"}})
	publish(t, ch, "", q.Name, amqp.Publishing{Body: big})
	publish(t, ch, "", q.Name, amqp.Publishing{})
	ds, err := ch.Consume(q.Name, "", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := recvOne(t, ds)
	if string(d.Body) != "hello" || d.ContentType != "text/plain" || d.Headers["k"] != "v" || d.RoutingKey != q.Name {
		t.Fatalf("delivery %+v", d)
	}
	d2 := recvOne(t, ds)
	if len(d2.Body) != len(big) || d2.Body[299_999] != big[299_999] {
		t.Fatalf("big body %d", len(d2.Body))
	}
	d3 := recvOne(t, ds)
	if len(d3.Body) != 0 {
		t.Fatalf("empty body %q", d3.Body)
	}
	if err := d3.Ack(true); err != nil {
		t.Fatal(err)
	}
	// Acking again is an unknown delivery tag.
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	d.Ack(false)
	e := <-closed
	if e == nil || e.Code != amqp.PreconditionFailed || e.Reason != "PRECONDITION_FAILED - unknown delivery tag 1" {
		t.Fatalf("close %#v", e)
	}
}

func TestUnackedRequeuedOnChannelClose(t *testing.T) {
	s := startServer(t)
	c := dial(t, s)
	ch := openChannel(t, c)
	if _, err := ch.QueueDeclare("rq", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		publish(t, ch, "", "rq", amqp.Publishing{Body: []byte(fmt.Sprint(i))})
	}
	ch.Qos(2, 0, false)
	ds, err := ch.Consume("rq", "c1", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	recvOne(t, ds)
	recvOne(t, ds)
	select {
	case d := <-ds:
		t.Fatalf("prefetch 2 exceeded: %q", d.Body)
	case <-time.After(50 * time.Millisecond):
	}
	ch.Close()
	ch2 := openChannel(t, c)
	eventually(t, "requeue", func() bool {
		q, err := ch2.QueueDeclarePassive("rq", false, false, false, false, nil)
		return err == nil && q.Messages == 3
	})
	d, ok, err := ch2.Get("rq", false)
	if err != nil || !ok || !d.Redelivered || string(d.Body) != "0" {
		t.Fatalf("get %v %v %+v", err, ok, d)
	}
	if err := d.Nack(false, false); err != nil {
		t.Fatal(err)
	}
	q, _ := ch2.QueueDeclarePassive("rq", false, false, false, false, nil)
	if q.Messages != 2 {
		t.Fatalf("messages %d", q.Messages)
	}
}

func TestPublisherConfirmsAndReturns(t *testing.T) {
	s := startServer(t)
	c := dial(t, s)
	ch := openChannel(t, c)
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	returns := ch.NotifyReturn(make(chan amqp.Return, 1))
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, 200))
	ch.QueueDeclare("cq", false, false, false, false, nil)
	for range 100 {
		publish(t, ch, "", "cq", amqp.Publishing{Body: []byte("x")})
	}
	if err := ch.PublishWithContext(context.Background(), "", "nowhere", true, false, amqp.Publishing{Body: []byte("r")}); err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 101; i++ {
		select {
		case cf := <-confirms:
			if !cf.Ack || cf.DeliveryTag != i {
				t.Fatalf("confirm %+v, want ack %d", cf, i)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no confirm %d", i)
		}
	}
	select {
	case r := <-returns:
		if r.ReplyCode != amqp.NoRoute || r.ReplyText != "NO_ROUTE" || string(r.Body) != "r" {
			t.Fatalf("return %+v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no basic.return")
	}
	if err := ch.Tx(); err == nil {
		t.Fatal("tx.select on a confirm channel succeeded")
	} else if e := err.(*amqp.Error); e.Reason != "PRECONDITION_FAILED - cannot switch from confirm to tx mode" {
		t.Fatal(e)
	}
}

func TestTransactions(t *testing.T) {
	s := startServer(t)
	c := dial(t, s)
	ch := openChannel(t, c)
	ch.QueueDeclare("tq", false, false, false, false, nil)
	if err := ch.Tx(); err != nil {
		t.Fatal(err)
	}
	publish(t, ch, "", "tq", amqp.Publishing{Body: []byte("a")})
	other := openChannel(t, c)
	if q, _ := other.QueueDeclarePassive("tq", false, false, false, false, nil); q.Messages != 0 {
		t.Fatalf("uncommitted publish visible: %d", q.Messages)
	}
	if err := ch.TxRollback(); err != nil {
		t.Fatal(err)
	}
	publish(t, ch, "", "tq", amqp.Publishing{Body: []byte("b")})
	if err := ch.TxCommit(); err != nil {
		t.Fatal(err)
	}
	q, _ := other.QueueDeclarePassive("tq", false, false, false, false, nil)
	if q.Messages != 1 {
		t.Fatalf("messages %d", q.Messages)
	}
	d, ok, _ := ch.Get("tq", false)
	if !ok || string(d.Body) != "b" {
		t.Fatal("get")
	}
	d.Ack(false)
	ch.TxRollback() // the ack is undone: the message stays unacked
	d.Ack(false)
	if err := ch.TxCommit(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "ack committed", func() bool {
		q, err := other.QueueDeclarePassive("tq", false, false, false, false, nil)
		return err == nil && q.Messages == 0
	})
	ch3 := openChannel(t, c)
	err := ch3.TxCommit()
	if e, ok := err.(*amqp.Error); !ok || e.Reason != "PRECONDITION_FAILED - channel is not transactional" {
		t.Fatalf("err %#v", err)
	}
}

func TestDirectReplyTo(t *testing.T) {
	s := startServer(t)
	c := dial(t, s)
	server := openChannel(t, c)
	client := openChannel(t, c)
	server.QueueDeclare("rpc", false, false, false, false, nil)
	reqs, _ := server.Consume("rpc", "", true, false, false, false, nil)
	replies, err := client.Consume("amq.rabbitmq.reply-to", "", true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	publish(t, client, "", "rpc", amqp.Publishing{ReplyTo: "amq.rabbitmq.reply-to", Body: []byte("ping")})
	req := recvOne(t, reqs)
	if len(req.ReplyTo) <= len("amq.rabbitmq.reply-to.") {
		t.Fatalf("reply_to %q", req.ReplyTo)
	}
	publish(t, server, "", req.ReplyTo, amqp.Publishing{Body: []byte("pong")})
	if d := recvOne(t, replies); string(d.Body) != "pong" {
		t.Fatalf("reply %q", d.Body)
	}
}

func TestExclusiveQueueDeletedWithConnection(t *testing.T) {
	s := startServer(t)
	c1, err := amqp.Dial(url(s))
	if err != nil {
		t.Fatal(err)
	}
	ch1 := openChannel(t, c1)
	if _, err := ch1.QueueDeclare("ex", false, false, true, false, nil); err != nil {
		t.Fatal(err)
	}
	c2 := dial(t, s)
	ch2 := openChannel(t, c2)
	_, err = ch2.QueueDeclarePassive("ex", false, false, true, false, nil)
	if amqpCode(err) != amqp.ResourceLocked {
		t.Fatalf("err %v", err)
	}
	c1.Close()
	ch3 := openChannel(t, c2)
	eventually(t, "exclusive queue deleted", func() bool {
		_, err := ch3.QueueDeclarePassive("ex", false, false, false, false, nil)
		if err == nil {
			return false
		}
		ch3 = openChannel(t, c2)
		return amqpCode(err) == amqp.NotFound
	})
}

func TestConsumerTimeout(t *testing.T) {
	s := startServer(t, func(c *Config) { c.ConsumerTimeout = 200 * time.Millisecond })
	c := dial(t, s)
	ch := openChannel(t, c)
	ch.QueueDeclare("slow", false, false, false, false, nil)
	publish(t, ch, "", "slow", amqp.Publishing{Body: []byte("x")})
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	ds, _ := ch.Consume("slow", "", false, false, false, false, nil)
	recvOne(t, ds)
	select {
	case e := <-closed:
		want := "PRECONDITION_FAILED - delivery acknowledgement on channel 1 timed out. Timeout value used: 200 ms. " +
			"This timeout value can be configured, see consumers doc guide to learn more"
		if e == nil || e.Reason != want {
			t.Fatalf("close %#v", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("channel not closed")
	}
	ch2 := openChannel(t, c)
	eventually(t, "requeue after timeout", func() bool {
		q, err := ch2.QueueDeclarePassive("slow", false, false, false, false, nil)
		return err == nil && q.Messages == 1
	})
}

func TestExchangesAndBindings(t *testing.T) {
	s := startServer(t)
	c := dial(t, s)
	ch := openChannel(t, c)
	if err := ch.ExchangeDeclare("logs", "topic", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	ch.QueueDeclare("errors", false, false, false, false, nil)
	if err := ch.QueueBind("errors", "*.error", "logs", false, nil); err != nil {
		t.Fatal(err)
	}
	publish(t, ch, "logs", "app.error", amqp.Publishing{Body: []byte("1")})
	publish(t, ch, "logs", "app.info", amqp.Publishing{Body: []byte("2")})
	publish(t, ch, "logs", "x", amqp.Publishing{Body: []byte("3"), Headers: amqp.Table{"CC": []any{"db.error"}}})
	eventually(t, "routing", func() bool {
		q, _ := ch.QueueDeclarePassive("errors", false, false, false, false, nil)
		return q.Messages == 2
	})
	err := ch.ExchangeDeclare("logs", "topic", true, false, false, false, nil)
	want := "PRECONDITION_FAILED - inequivalent arg 'durable' for exchange 'logs' in vhost '/': received 'true' but current is 'false'"
	if e, ok := err.(*amqp.Error); !ok || e.Reason != want {
		t.Fatalf("err %#v", err)
	}
	ch = openChannel(t, c)
	err = ch.ExchangeDeclare("amq.foo", "direct", false, false, false, false, nil)
	want = "ACCESS_REFUSED - exchange name 'amq.foo' contains reserved prefix 'amq.*'"
	if e, ok := err.(*amqp.Error); !ok || e.Reason != want {
		t.Fatalf("err %#v", err)
	}
}
