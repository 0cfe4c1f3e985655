package broker

import (
	"bytes"
	"encoding/binary"

	"github.com/warrenmq/warren/protocol"
)

// authMechanisms is offered in connection.start, in RabbitMQ's order.
const authMechanisms = "PLAIN AMQPLAIN"

// credentials extracts the user name and password from a connection.start-ok
// response for the PLAIN or AMQPLAIN mechanism. ok is false when the
// response is malformed.
func credentials(mechanism string, response []byte) (user, pass string, ok bool) {
	switch mechanism {
	case "PLAIN":
		// [authzid] NUL authcid NUL passwd
		parts := bytes.Split(response, []byte{0})
		if len(parts) != 3 {
			return "", "", false
		}
		return string(parts[1]), string(parts[2]), true
	case "AMQPLAIN":
		// A field table without its size prefix.
		b := make([]byte, 4+len(response))
		binary.BigEndian.PutUint32(b, uint32(len(response)))
		copy(b[4:], response)
		t, _, err := protocol.DecodeTable(b)
		if err != nil {
			return "", "", false
		}
		u, ok1 := t["LOGIN"].(string)
		p, ok2 := t["PASSWORD"].(string)
		if !ok1 || !ok2 {
			return "", "", false
		}
		return u, p, true
	}
	return "", "", false
}
