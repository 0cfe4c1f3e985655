package broker

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"strings"
)

// replySecretLen is the length of a direct reply-to key's random part.
const replySecretLen = 16

// replyKey is what a direct reply-to routing key says: which node the
// requester is connected to, its connection and channel there, and a
// random secret. As RabbitMQ's keys name the channel process and its
// node, the node lets any node tell where a reply must go; the secret
// makes a key that was not handed out, or belongs to a consumer that has
// gone, route nowhere.
//
// The key is directReplyPrefix followed by the unpadded base64url of:
// the node name's length (one octet), the node name, the connection id
// (8 octets, big-endian), the channel id (2 octets) and the secret.
type replyKey struct {
	node    string
	conn    uint64
	channel uint16
	secret  [replySecretLen]byte
}

// newReplyKey returns a fresh key for a direct reply-to consumer on
// channel ch of connection conn of node.
func newReplyKey(node string, conn uint64, ch uint16) replyKey {
	k := replyKey{node: node, conn: conn, channel: ch}
	rand.Read(k.secret[:])
	return k
}

// String returns the key as a routing key.
func (k replyKey) String() string {
	b := make([]byte, 0, 1+len(k.node)+8+2+replySecretLen)
	b = append(b, byte(len(k.node)))
	b = append(b, k.node...)
	b = binary.BigEndian.AppendUint64(b, k.conn)
	b = binary.BigEndian.AppendUint16(b, k.channel)
	b = append(b, k.secret[:]...)
	return directReplyPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// replyEncoding decodes only the canonical form String produces, so that
// one key has one spelling.
var replyEncoding = base64.RawURLEncoding.Strict()

// decodeReplyKey parses a routing key String produced. It reports false
// for anything else: another prefix, bad base64, a wrong length or an
// empty node name.
func decodeReplyKey(key string) (replyKey, bool) {
	enc, ok := strings.CutPrefix(key, directReplyPrefix)
	if !ok {
		return replyKey{}, false
	}
	b, err := replyEncoding.DecodeString(enc)
	if err != nil || len(b) == 0 {
		return replyKey{}, false
	}
	n := int(b[0])
	if n == 0 || len(b) != 1+n+8+2+replySecretLen {
		return replyKey{}, false
	}
	k := replyKey{node: string(b[1 : 1+n])}
	b = b[1+n:]
	k.conn = binary.BigEndian.Uint64(b)
	k.channel = binary.BigEndian.Uint16(b[8:])
	copy(k.secret[:], b[10:])
	return k, true
}
