package queue

import (
	"encoding/binary"
	"errors"
	"time"
)

// codecVersion is the first octet of every encoded message. A new layout
// gets a new version; DecodeMessage keeps reading the old ones.
const codecVersion = 1

// ErrBadMessage is returned by DecodeMessage for bytes that are not an
// encoded message (truncated, an unknown version, or bad properties).
var ErrBadMessage = errors.New("queue: cannot decode stored message")

// AppendMessage appends m's stored form to b, for a durable queue's log:
//
//	version   1 octet (1)
//	timestamp 8 octets, Unix nanoseconds, big endian (0 for the zero time)
//	exchange  uvarint length, bytes
//	key       uvarint length, bytes
//	props     4 octets length, big endian; property flags and list as in a
//	          content header
//	body      the rest
//
// The properties are RawProps when the message has them, else Props encoded.
func AppendMessage(b []byte, m *Message) []byte {
	b = append(b, codecVersion)
	var ts int64
	if !m.Timestamp.IsZero() {
		ts = m.Timestamp.UnixNano()
	}
	b = binary.BigEndian.AppendUint64(b, uint64(ts))
	b = binary.AppendUvarint(b, uint64(len(m.Exchange)))
	b = append(b, m.Exchange...)
	b = binary.AppendUvarint(b, uint64(len(m.RoutingKey)))
	b = append(b, m.RoutingKey...)
	at := len(b)
	b = append(b, 0, 0, 0, 0)
	if m.RawProps != nil {
		b = append(b, m.RawProps...)
	} else {
		b = m.Props.Append(b)
	}
	binary.BigEndian.PutUint32(b[at:], uint32(len(b)-at-4))
	return append(b, m.Body...)
}

// DecodeMessage rebuilds a message from its stored form. The message does
// not alias data: properties and body share one new allocation. The
// properties are decoded into Props and also kept as RawProps.
func DecodeMessage(data []byte) (*Message, error) {
	if len(data) < 9 || data[0] != codecVersion {
		return nil, ErrBadMessage
	}
	m := &Message{}
	if ts := int64(binary.BigEndian.Uint64(data[1:9])); ts != 0 {
		m.Timestamp = time.Unix(0, ts)
	}
	rest := data[9:]
	var ok bool
	var ex, key, props []byte
	if ex, rest, ok = lengthPrefixed(rest); !ok {
		return nil, ErrBadMessage
	}
	if key, rest, ok = lengthPrefixed(rest); !ok {
		return nil, ErrBadMessage
	}
	if len(rest) < 4 {
		return nil, ErrBadMessage
	}
	n := uint64(binary.BigEndian.Uint32(rest))
	if n > uint64(len(rest)-4) {
		return nil, ErrBadMessage
	}
	props, rest = rest[4:4+n], rest[4+n:]
	m.Exchange, m.RoutingKey = string(ex), string(key)
	buf := make([]byte, len(props)+len(rest))
	copy(buf, props)
	copy(buf[len(props):], rest)
	if len(props) >= 2 {
		m.RawProps = buf[:len(props):len(props)]
		if err := m.Props.Decode(m.RawProps); err != nil {
			return nil, ErrBadMessage
		}
	} else if len(props) != 0 {
		return nil, ErrBadMessage
	}
	m.Body = buf[len(props):]
	return m, nil
}

// lengthPrefixed splits a uvarint-length-prefixed field off b.
func lengthPrefixed(b []byte) (field, rest []byte, ok bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, false
	}
	return b[k : k+int(n)], b[k+int(n):], true
}
