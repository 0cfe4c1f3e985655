package protocol

// The functions in this file append complete frames to a caller's buffer.
// They never allocate when the buffer has room.

// appendFrameStart appends a frame header with a zero size; endFrame fills
// in the size and appends the frame-end octet.
func appendFrameStart(b []byte, typ uint8, channel uint16) ([]byte, int) {
	start := len(b)
	return append(b, typ, byte(channel>>8), byte(channel), 0, 0, 0, 0), start
}

func endFrame(b []byte, start int) []byte {
	n := uint32(len(b) - start - frameHeaderSize)
	b[start+3], b[start+4], b[start+5], b[start+6] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	return append(b, FrameEnd)
}

// AppendMethodFrame appends a method frame carrying m on channel to b.
func AppendMethodFrame(b []byte, channel uint16, m Method) []byte {
	b, start := appendFrameStart(b, FrameMethod, channel)
	b = appendUint16(b, m.ClassID())
	b = appendUint16(b, m.MethodID())
	b = m.AppendArgs(b)
	return endFrame(b, start)
}

// AppendHeaderFrame appends a content header frame (class, weight 0, body
// size, properties p) on channel to b. A nil p writes no properties.
func AppendHeaderFrame(b []byte, channel uint16, class uint16, bodySize uint64, p *Properties) []byte {
	b, start := appendFrameStart(b, FrameHeader, channel)
	b = appendUint16(b, class)
	b = append(b, 0, 0)
	b = appendUint64(b, bodySize)
	if p == nil {
		b = append(b, 0, 0)
	} else {
		b = p.Append(b)
	}
	return endFrame(b, start)
}

// AppendHeaderFrameRaw is AppendHeaderFrame with the properties already
// encoded: rawProps is the property flags and list exactly as received
// (see DecodeContentHeader), so a message's properties are forwarded
// without re-encoding. An empty rawProps writes no properties.
func AppendHeaderFrameRaw(b []byte, channel uint16, class uint16, bodySize uint64, rawProps []byte) []byte {
	b, start := appendFrameStart(b, FrameHeader, channel)
	b = appendUint16(b, class)
	b = append(b, 0, 0)
	b = appendUint64(b, bodySize)
	if len(rawProps) < 2 {
		b = append(b, 0, 0)
	} else {
		b = append(b, rawProps...)
	}
	return endFrame(b, start)
}

// AppendBodyFrames appends body to b as body frames on channel, each
// carrying at most frameMax-8 octets (frameMax 0 means one frame). An empty
// body appends nothing: a content of size 0 has no body frames.
func AppendBodyFrames(b []byte, channel uint16, body []byte, frameMax uint32) []byte {
	chunk := len(body)
	if frameMax > frameOverhead && int64(frameMax-frameOverhead) < int64(chunk) {
		chunk = int(frameMax - frameOverhead)
	}
	for len(body) > 0 {
		n := min(chunk, len(body))
		var start int
		b, start = appendFrameStart(b, FrameBody, channel)
		b = append(b, body[:n]...)
		b = endFrame(b, start)
		body = body[n:]
	}
	return b
}

// AppendHeartbeat appends a heartbeat frame to b.
func AppendHeartbeat(b []byte) []byte {
	return append(b, FrameHeartbeat, 0, 0, 0, 0, 0, 0, FrameEnd)
}

// DecodeContentHeader splits the payload of a content header frame into its
// class, body size and raw properties (flags and list; rawProps aliases
// payload). The weight field is ignored, as RabbitMQ does. A payload too
// short for class, weight and body size is what rabbit_reader reports as
// "FRAME_ERROR - type 2, all octets = <<...>>: unknown_frame".
func DecodeContentHeader(payload []byte) (class uint16, bodySize uint64, rawProps []byte, err error) {
	if len(payload) < 12 {
		return 0, 0, nil, unknownFrame(FrameHeader, payload)
	}
	return getUint16(payload), getUint64(payload[4:]), payload[12:], nil
}
