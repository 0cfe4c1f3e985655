package broker

import (
	"errors"
	"reflect"
	"testing"

	"github.com/warrenmq/warren/protocol"
)

// TestCheckMethodRefusesMalformedUTF8: a short string that is not UTF-8
// in any method without content is the connection error 501, naming no
// method; basic.publish is not checked.
func TestCheckMethodRefusesMalformedUTF8(t *testing.T) {
	const bad = "q\xc3"
	for _, m := range []protocol.Method{
		&protocol.QueueDeclare{Queue: bad},
		&protocol.QueueDelete{Queue: bad},
		&protocol.QueueBind{Queue: "q", Exchange: bad},
		&protocol.QueueBind{Queue: "q", Exchange: "x", RoutingKey: bad},
		&protocol.QueueUnbind{Queue: bad, Exchange: "x"},
		&protocol.QueuePurge{Queue: bad},
		&protocol.ExchangeDeclare{Exchange: bad, Type: "direct"},
		&protocol.ExchangeDeclare{Exchange: "x", Type: bad},
		&protocol.ExchangeDelete{Exchange: bad},
		&protocol.ExchangeBind{Destination: "d", Source: bad},
		&protocol.ExchangeUnbind{Destination: "d", Source: "s", RoutingKey: bad},
		&protocol.BasicConsume{Queue: "q", ConsumerTag: bad},
		&protocol.BasicCancel{ConsumerTag: bad},
		&protocol.BasicGet{Queue: bad},
		&protocol.ChannelClose{ReplyText: bad},
		&protocol.AccessRequest{Realm: bad},
	} {
		t.Run(reflect.TypeOf(m).Elem().Name(), func(t *testing.T) {
			var pe *protocol.Error
			if err := checkMethod(m); !errors.As(err, &pe) {
				t.Fatalf("checkMethod = %v, want a protocol error", err)
			}
			if pe.Code != protocol.FrameError || pe.Text != "FRAME_ERROR - Malformed UTF-8 in shortstr" ||
				pe.ClassID != 0 || pe.MethodID != 0 || !pe.Hard() {
				t.Fatalf("error %d %q naming %d.%d, want a 501 naming no method", pe.Code, pe.Text, pe.ClassID, pe.MethodID)
			}
		})
	}
	if err := checkMethod(&protocol.BasicPublish{Exchange: bad, RoutingKey: bad}); err != nil {
		t.Fatalf("basic.publish refused: %v", err)
	}
}

// TestCheckMethodStripsCRLF: carriage returns and line feeds leave the
// names of the methods RabbitMQ strips them from, and only those.
func TestCheckMethodStripsCRLF(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in, want protocol.Method
	}{
		{"queue.declare", &protocol.QueueDeclare{Queue: "\rq\r\n1\n"}, &protocol.QueueDeclare{Queue: "q1"}},
		{"queue.declare-only-crlf", &protocol.QueueDeclare{Queue: "\r\n"}, &protocol.QueueDeclare{Queue: ""}},
		{"queue.delete", &protocol.QueueDelete{Queue: "q\n"}, &protocol.QueueDelete{Queue: "q"}},
		{"queue.delete-only-crlf", &protocol.QueueDelete{Queue: "\n"}, &protocol.QueueDelete{Queue: "\n"}},
		{"queue.bind",
			&protocol.QueueBind{Queue: "q\n", Exchange: "\rx", RoutingKey: "k\n"},
			&protocol.QueueBind{Queue: "q", Exchange: "x", RoutingKey: "k\n"}},
		{"queue.bind-only-crlf",
			&protocol.QueueBind{Queue: "\r", Exchange: "x"},
			&protocol.QueueBind{Queue: "\r", Exchange: "x"}},
		{"queue.unbind",
			&protocol.QueueUnbind{Queue: "q\r", Exchange: "x\n", RoutingKey: "\rk"},
			&protocol.QueueUnbind{Queue: "q", Exchange: "x", RoutingKey: "\rk"}},
		{"exchange.declare",
			&protocol.ExchangeDeclare{Exchange: "x\r\n", Type: "direct"},
			&protocol.ExchangeDeclare{Exchange: "x", Type: "direct"}},
		{"exchange.delete", &protocol.ExchangeDelete{Exchange: "\nx"}, &protocol.ExchangeDelete{Exchange: "x"}},
		{"exchange.bind",
			&protocol.ExchangeBind{Destination: "d\n", Source: "\rs", RoutingKey: "k\r"},
			&protocol.ExchangeBind{Destination: "d", Source: "s", RoutingKey: "k\r"}},
		{"exchange.unbind",
			&protocol.ExchangeUnbind{Destination: "\nd", Source: "s\r", RoutingKey: "k"},
			&protocol.ExchangeUnbind{Destination: "d", Source: "s", RoutingKey: "k"}},
		{"queue.purge", &protocol.QueuePurge{Queue: "q\n"}, &protocol.QueuePurge{Queue: "q\n"}},
		{"basic.consume", &protocol.BasicConsume{Queue: "q\n", ConsumerTag: "t\r"}, &protocol.BasicConsume{Queue: "q\n", ConsumerTag: "t\r"}},
		{"basic.get", &protocol.BasicGet{Queue: "q\r"}, &protocol.BasicGet{Queue: "q\r"}},
		{"basic.publish", &protocol.BasicPublish{Exchange: "x\n", RoutingKey: "k\n"}, &protocol.BasicPublish{Exchange: "x\n", RoutingKey: "k\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := checkMethod(tc.in); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(tc.in, tc.want) {
				t.Fatalf("after checkMethod: %+v, want %+v", tc.in, tc.want)
			}
		})
	}
}
