package queue

import (
	"errors"
	"testing"
	"time"

	"github.com/warrenmq/warren/protocol"
)

func TestParseArgsErrors(t *testing.T) {
	const prefix = "PRECONDITION_FAILED - invalid arg "
	tests := []struct {
		name string
		args protocol.Table
		want string
	}{
		{"negative ttl", protocol.Table{"x-message-ttl": int32(-1)},
			prefix + "'x-message-ttl' for queue 'q' in vhost '/': {value_negative,-1}"},
		{"ttl too large", protocol.Table{"x-message-ttl": int64(315360000001)},
			prefix + "'x-message-ttl' for queue 'q' in vhost '/': {value_too_large,315360000001}"},
		{"ten years is fine but eleven are not", protocol.Table{"x-expires": int64(11 * 31536000000)},
			prefix + "'x-expires' for queue 'q' in vhost '/': {value_too_large,346896000000}"},
		{"ttl not an integer", protocol.Table{"x-message-ttl": "1000"},
			prefix + `'x-message-ttl' for queue 'q' in vhost '/': "expected integer, got longstr"`},
		{"ttl as float", protocol.Table{"x-message-ttl": 1.5},
			prefix + `'x-message-ttl' for queue 'q' in vhost '/': "expected integer, got double"`},
		{"expires zero", protocol.Table{"x-expires": int32(0)},
			prefix + "'x-expires' for queue 'q' in vhost '/': {value_zero,0}"},
		{"expires negative", protocol.Table{"x-expires": int64(-5)},
			prefix + "'x-expires' for queue 'q' in vhost '/': {value_negative,-5}"},
		{"max length negative", protocol.Table{"x-max-length": int16(-1)},
			prefix + "'x-max-length' for queue 'q' in vhost '/': {value_negative,-1}"},
		{"max length bytes string", protocol.Table{"x-max-length-bytes": "big"},
			prefix + `'x-max-length-bytes' for queue 'q' in vhost '/': "expected integer, got longstr"`},
		{"max priority too high", protocol.Table{"x-max-priority": int32(256)},
			prefix + "'x-max-priority' for queue 'q' in vhost '/': {max_value_exceeded,256}"},
		{"max priority negative", protocol.Table{"x-max-priority": int8(-1)},
			prefix + "'x-max-priority' for queue 'q' in vhost '/': {value_negative,-1}"},
		{"unknown overflow", protocol.Table{"x-overflow": "drop-tail"},
			prefix + "'x-overflow' for queue 'q' in vhost '/': invalid_overflow"},
		{"overflow not a string", protocol.Table{"x-overflow": int32(1)},
			prefix + "'x-overflow' for queue 'q' in vhost '/': {unacceptable_type,signedint}"},
		{"dlrk without dlx", protocol.Table{"x-dead-letter-routing-key": "k"},
			prefix + "'x-dead-letter-routing-key' for queue 'q' in vhost '/': routing_key_but_no_dlx_defined"},
		{"dlrk not a string", protocol.Table{"x-dead-letter-exchange": "dlx", "x-dead-letter-routing-key": true},
			prefix + "'x-dead-letter-routing-key' for queue 'q' in vhost '/': {unacceptable_type,bool}"},
		{"dlx not a string", protocol.Table{"x-dead-letter-exchange": int32(5)},
			"PRECONDITION_FAILED - invalid type 'signedint' for arg 'x-dead-letter-exchange'"},
		{"sac not a bool", protocol.Table{"x-single-active-consumer": "true"},
			prefix + "'x-single-active-consumer' for queue 'q' in vhost '/': {unacceptable_type,longstr}"},
		{"unknown queue type", protocol.Table{"x-queue-type": "fancy"},
			prefix + `'x-queue-type' for queue 'q' in vhost '/': "unsupported queue type 'fancy'"`},
		{"queue type not a string", protocol.Table{"x-queue-type": []byte("classic")},
			prefix + "'x-queue-type' for queue 'q' in vhost '/': {unacceptable_type,binary}"},
		{"unknown queue mode", protocol.Table{"x-queue-mode": "eager"},
			prefix + `'x-queue-mode' for queue 'q' in vhost '/': "unsupported queue mode 'eager'"`},
		{"unknown queue version", protocol.Table{"x-queue-version": int32(3)},
			prefix + `'x-queue-version' for queue 'q' in vhost '/': "unsupported queue version '3'"`},
		{"quorum argument on classic", protocol.Table{"x-delivery-limit": int32(3)},
			prefix + "'x-delivery-limit' for queue 'q' in vhost '/' of queue type rabbit_classic_queue"},
		{"classic argument on quorum", protocol.Table{"x-queue-type": "quorum", "x-max-priority": int32(3)},
			prefix + "'x-max-priority' for queue 'q' in vhost '/' of queue type rabbit_quorum_queue"},
		{"bad leader locator", protocol.Table{"x-queue-leader-locator": "random"},
			prefix + "'x-queue-leader-locator' for queue 'q' in vhost '/': invalid_queue_locator_arg"},
		{"first failing check in RabbitMQ's order", protocol.Table{"x-max-length": int32(-1), "x-expires": int32(0)},
			prefix + "'x-expires' for queue 'q' in vhost '/': {value_zero,0}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseArgs(tt.args, "q", "/")
			var pe *protocol.Error
			if !errors.As(err, &pe) {
				t.Fatalf("ParseArgs(%v) error = %v, want an AMQP exception", tt.args, err)
			}
			if pe.Code != protocol.PreconditionFailed || pe.Text != tt.want {
				t.Fatalf("ParseArgs(%v) = %d %q, want %d %q", tt.args, pe.Code, pe.Text, protocol.PreconditionFailed, tt.want)
			}
		})
	}
}

func TestParseArgsValues(t *testing.T) {
	tests := []struct {
		name string
		args protocol.Table
		want Args
	}{
		{"empty is classic", nil, Args{Type: TypeClassic}},
		{"everything classic", protocol.Table{
			"x-message-ttl":             int32(1500),
			"x-expires":                 int64(60000),
			"x-max-length":              uint16(10),
			"x-max-length-bytes":        int64(1 << 20),
			"x-overflow":                "reject-publish-dlx",
			"x-dead-letter-exchange":    "",
			"x-dead-letter-routing-key": "dead",
			"x-max-priority":            uint8(10),
			"x-single-active-consumer":  true,
			"x-queue-type":              "classic",
			"x-queue-mode":              "lazy",
			"x-queue-version":           int32(2),
			"x-queue-master-locator":    "min-masters",
			"x-consumer-timeout":        int32(30000),
			"x-custom":                  "ignored",
		}, Args{
			Type:       TypeClassic,
			MessageTTL: 1500 * time.Millisecond, HasMessageTTL: true,
			Expires:   time.Minute,
			MaxLength: 10, HasMaxLength: true,
			MaxLengthBytes: 1 << 20, HasMaxLengthBytes: true,
			Overflow:           RejectPublishDLX,
			HasOverflow:        true,
			DeadLetterExchange: "", HasDeadLetterExchange: true,
			DeadLetterRoutingKey: "dead", HasDeadLetterRoutingKey: true,
			MaxPriority:          10,
			SingleActiveConsumer: true,
			ConsumerTimeout:      30 * time.Second, HasConsumerTimeout: true,
		}},
		{"zero ttl and zero length are limits", protocol.Table{"x-message-ttl": int8(0), "x-max-length": int8(0)},
			Args{Type: TypeClassic, HasMessageTTL: true, HasMaxLength: true}},
		{"overflow reject-publish", protocol.Table{"x-overflow": "reject-publish"},
			Args{Type: TypeClassic, Overflow: RejectPublish, HasOverflow: true}},
		{"quorum delivery limit", protocol.Table{"x-queue-type": "quorum", "x-delivery-limit": int64(5)},
			Args{Type: TypeQuorum, DeliveryLimit: 5, HasDeliveryLimit: true}},
		{"unusable consumer timeout ignored", protocol.Table{"x-consumer-timeout": "soon"},
			Args{Type: TypeClassic}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseArgs(tt.args, "q", "/")
			if err != nil {
				t.Fatalf("ParseArgs(%v) error: %v", tt.args, err)
			}
			if got != tt.want {
				t.Fatalf("ParseArgs(%v)\n got %+v\nwant %+v", tt.args, got, tt.want)
			}
		})
	}
}

func TestOverflowString(t *testing.T) {
	for o, want := range map[Overflow]string{DropHead: "drop-head", RejectPublish: "reject-publish", RejectPublishDLX: "reject-publish-dlx"} {
		if o.String() != want {
			t.Errorf("%d.String() = %q, want %q", o, o.String(), want)
		}
	}
}

func TestParseConsumePriority(t *testing.T) {
	tests := []struct {
		args protocol.Table
		want int32
		err  string
	}{
		{nil, 0, ""},
		{protocol.Table{"x-priority": int32(10)}, 10, ""},
		{protocol.Table{"x-priority": int8(-3)}, -3, ""},
		{protocol.Table{"x-priority": int64(1) << 40}, 1<<31 - 1, ""},
		{protocol.Table{"x-priority": "high"}, 0,
			`PRECONDITION_FAILED - invalid arg 'x-priority' for queue 'q' in vhost '/': "expected integer, got longstr"`},
	}
	for _, tt := range tests {
		got, err := ParseConsumePriority(tt.args, "q", "/")
		if tt.err != "" {
			var pe *protocol.Error
			if !errors.As(err, &pe) || pe.Code != protocol.PreconditionFailed || pe.Text != tt.err {
				t.Errorf("ParseConsumePriority(%v) error %v, want %q", tt.args, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseConsumePriority(%v) = %d, %v; want %d", tt.args, got, err, tt.want)
		}
	}
}
