package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/hashicorp/memberlist"
)

// NodeMeta is what a node tells the others about itself through
// membership. It travels in every alive message, so it must stay small:
// encoded, at most MaxMetaSize bytes.
type NodeMeta struct {
	// AMQPAddr is the host:port AMQP clients reach this node at.
	AMQPAddr string
	// Tags holds anything small the broker adds later.
	Tags map[string]string
}

// MaxMetaSize is the most an encoded NodeMeta may take: memberlist's limit
// on node metadata.
const MaxMetaSize = memberlist.MetaMaxSize

// Encoding: a version byte, then fields, each a tag byte, a uvarint
// length and that many bytes. A reader skips tags it does not know, so a
// later version can add fields that older nodes ignore. Tags are written
// sorted by key, so equal metadata encodes to equal bytes (memberlist
// compares the bytes to tell an update).
const (
	metaVersion  = 1
	metaAMQPAddr = 1
	metaTag      = 2 // uvarint key length, key, value
	metaLeaving  = 3 // empty: the node is leaving (Membership.Leave)
)

var errMetaTooLarge = errors.New("cluster: node metadata too large")

func (m NodeMeta) encode() ([]byte, error) { return m.encodeLeaving(false) }

// encodeLeaving encodes m, with the leaving mark when leaving.
func (m NodeMeta) encodeLeaving(leaving bool) ([]byte, error) {
	b := []byte{metaVersion}
	if leaving {
		b = appendField(b, metaLeaving, nil)
	}
	if m.AMQPAddr != "" {
		b = appendField(b, metaAMQPAddr, []byte(m.AMQPAddr))
	}
	keys := make([]string, 0, len(m.Tags))
	for k := range m.Tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := binary.AppendUvarint(nil, uint64(len(k)))
		v = append(append(v, k...), m.Tags[k]...)
		b = appendField(b, metaTag, v)
	}
	if len(b) > MaxMetaSize {
		return nil, fmt.Errorf("%w: %d bytes encoded, at most %d", errMetaTooLarge, len(b), MaxMetaSize)
	}
	return b, nil
}

func appendField(b []byte, tag byte, v []byte) []byte {
	b = append(b, tag)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// decodeMeta parses metadata received from another node, and whether it
// carries the leaving mark; every length is checked against what is left
// before it is used.
func decodeMeta(b []byte) (m NodeMeta, leaving bool, err error) {
	if len(b) == 0 {
		return m, false, errors.New("cluster: empty node metadata")
	}
	if len(b) > MaxMetaSize {
		return m, false, fmt.Errorf("%w: %d bytes", errMetaTooLarge, len(b))
	}
	if b[0] < metaVersion {
		return m, false, fmt.Errorf("cluster: node metadata version %d", b[0])
	}
	for rest := b[1:]; len(rest) > 0; {
		tag := rest[0]
		v, next, err := readField(rest[1:])
		if err != nil {
			return NodeMeta{}, false, err
		}
		rest = next
		switch tag {
		case metaAMQPAddr:
			m.AMQPAddr = string(v)
		case metaLeaving:
			leaving = true
		case metaTag:
			k, val, err := readField(v)
			if err != nil {
				return NodeMeta{}, false, err
			}
			if m.Tags == nil {
				m.Tags = map[string]string{}
			}
			m.Tags[string(k)] = string(val)
		}
	}
	return m, leaving, nil
}

// readField reads a uvarint length and that many bytes.
func readField(b []byte) (v, rest []byte, err error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, errors.New("cluster: truncated node metadata")
	}
	return b[k : k+int(n)], b[k+int(n):], nil
}
