// Package protocol is Warren's AMQP 0-9-1 wire codec: frames, methods,
// content headers, field tables and the exception type, encoded and decoded
// exactly as RabbitMQ does.
//
// The method structs, class ids and reply codes are generated from the
// machine-readable specification that sits outside the repository in
// ../shared/spec (relative to the repository root); run `go generate
// ./protocol` after changing the generator, and TestGeneratedFilesUpToDate
// fails when the committed files differ from what the generator writes.
//
// Encoding always appends into a caller's buffer and does not allocate when
// the buffer has room. Decoding never panics, never aliases the input in
// decoded strings (the broker reuses its read buffer) and never allocates
// more than the remaining input implies. Malformed input yields an *Error
// carrying the reply code and text RabbitMQ would send.
//
// The package imports only the standard library.
package protocol

//go:generate go run ./internal/gen -spec ../../shared/spec/amqp-rabbitmq-0.9.1.json -out .
