// Package protocol is Warren's AMQP 0-9-1 wire codec: frames, methods,
// content headers, field tables and the exception type, encoded and decoded
// exactly as RabbitMQ does.
//
// The method structs, class ids and reply codes are generated from the
// project's description of the protocol, internal/gen/amqp0-9-1.spec (ids,
// fields in wire order and constants, as RabbitMQ's specification gives
// them); run `go generate ./protocol` after changing it or the generator,
// and TestGeneratedFilesUpToDate fails when the committed files differ from
// what the generator writes.
//
// Encoding always appends into a caller's buffer and does not allocate when
// the buffer has room. Decoding never panics, never aliases the input in
// decoded strings (the broker reuses its read buffer) and never allocates
// more than the remaining input implies. Malformed input yields an *Error
// carrying the reply code and text RabbitMQ would send.
//
// FieldTypeName, IntValue, ErlangTerm and ErlangText serve the packages
// that build RabbitMQ's error texts: they name a field value's type and
// print the value as Erlang prints the term RabbitMQ decodes it to.
//
// Where RabbitMQ's behaviour is odd or unhelpful, Warren's choice is:
//
//   - Frame size: like rabbit_reader, a payload of up to frame max octets is
//     accepted (RabbitMQ tolerates the 8 octets of overhead that many
//     clients forget); anything larger is a FRAME_ERROR before any of the
//     payload is read. Until tuning a server reads with InitialFrameMax
//     (8192, RabbitMQ 4's; 3.x used 4096); a reader nobody tuned accepts
//     131072.
//   - Unknown class or method id: RabbitMQ's reader crashes and drops the
//     socket; Warren returns a hard NOT_IMPLEMENTED so the broker can send
//     connection.close.
//   - Field table with an unknown type tag inside method arguments:
//     RabbitMQ crashes the connection; Warren reports the same
//     "FRAME_ERROR - cannot decode <<...>>" as for any undecodable
//     arguments. DecodeTable on its own names the bad tag.
//   - Tables nest at most 64 deep (RabbitMQ has no limit).
//   - The 0-9 protocol header is accepted as 0-9-1, and the table tag L is
//     read as a signed 64-bit integer, both as RabbitMQ does.
//
// The package imports only the standard library.
package protocol

//go:generate go run ./internal/gen -spec internal/gen/amqp0-9-1.spec -out .
