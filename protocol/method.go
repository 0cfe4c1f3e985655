package protocol

import "strconv"

// Method is an AMQP method: one generated struct per method of the
// specification implements it with pointer receivers.
type Method interface {
	// ClassID returns the id of the method's class.
	ClassID() uint16
	// MethodID returns the id of the method within its class.
	MethodID() uint16
	// Name returns the dotted name, such as "basic.publish".
	Name() string
	// HasContent reports whether a content header and body follow the
	// method (basic.publish, basic.return, basic.deliver, basic.get-ok).
	HasContent() bool
	// Sync reports whether the specification marks the method synchronous.
	Sync() bool
	// AppendArgs appends the encoded arguments (not the ids) to b.
	AppendArgs(b []byte) []byte
	// DecodeArgs decodes the arguments from b, which must hold exactly
	// them. Decoded strings never alias b. On error the struct may be
	// partly overwritten.
	DecodeArgs(b []byte) error
}

// MethodName returns the dotted name of the method with the given ids, such
// as "basic.publish", or "" if the specification has no such method.
func MethodName(classID, methodID uint16) string {
	return methodName(classID, methodID)
}

// DecodeMethod decodes the payload of a method frame (class id, method id,
// arguments) into a newly allocated method struct.
//
// Errors follow RabbitMQ:
//   - a payload shorter than the two ids is what rabbit_command_assembler
//     cannot analyze, which rabbit_reader reports as
//     "FRAME_ERROR - type 1, all octets = <<...>>: unknown_frame";
//   - truncated or surplus arguments, and malformed field tables, give
//     "FRAME_ERROR - cannot decode <<...>>" with the method's ids;
//   - an unknown class or method id makes RabbitMQ's reader crash
//     ({unknown_method_id, ...}) and drop the TCP connection without a
//     close; Warren instead returns a hard NOT_IMPLEMENTED ("NOT_IMPLEMENTED
//   - unknown method {ClassID,MethodID}") carrying the ids, so the broker
//     can send a proper connection.close.
func DecodeMethod(payload []byte) (Method, error) {
	if len(payload) < 4 {
		return nil, unknownFrame(FrameMethod, payload)
	}
	classID, methodID := getUint16(payload), getUint16(payload[2:])
	m := NewMethod(classID, methodID)
	if m == nil {
		return nil, unknownMethod(classID, methodID)
	}
	if err := m.DecodeArgs(payload[4:]); err != nil {
		return nil, err
	}
	return m, nil
}

func unknownMethod(classID, methodID uint16) *Error {
	text := make([]byte, 0, 48)
	text = append(text, "NOT_IMPLEMENTED - unknown method {"...)
	text = strconv.AppendUint(text, uint64(classID), 10)
	text = append(text, ',')
	text = strconv.AppendUint(text, uint64(methodID), 10)
	text = append(text, '}')
	return &Error{Code: NotImplemented, Text: string(text), ClassID: classID, MethodID: methodID}
}
