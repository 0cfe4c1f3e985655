package protocol

// MethodDecoder decodes method frames like DecodeMethod, but decodes the
// methods a busy connection receives per message (basic.publish, basic.ack,
// basic.nack, basic.reject) into structs it owns and reuses, so the hot
// path allocates nothing: not the struct, and not the exchange name and
// routing key when they repeat. A method it returns is valid until the next
// Decode; copy it to keep it. Other methods are newly allocated as by
// DecodeMethod. A MethodDecoder is not safe for concurrent use; the zero
// value is ready to use.
type MethodDecoder struct {
	publish BasicPublish
	ack     BasicAck
	nack    BasicNack
	reject  BasicReject
}

// Decode decodes the payload of a method frame, with the errors of
// DecodeMethod.
func (d *MethodDecoder) Decode(payload []byte) (Method, error) {
	if len(payload) >= 4 && getUint16(payload) == ClassBasic {
		var m Method
		switch getUint16(payload[2:]) {
		case 40:
			m = &d.publish
		case 80:
			m = &d.ack
		case 120:
			m = &d.nack
		case 90:
			m = &d.reject
		}
		if m != nil {
			if err := m.DecodeArgs(payload[4:]); err != nil {
				return nil, err
			}
			return m, nil
		}
	}
	return DecodeMethod(payload)
}
