package protocol

// Property flags of the basic class, as they appear in the 16-bit property
// flags word of a content header: bit 15 is content-type, bit 2 cluster-id.
// Bit 0 would announce a further flags word; basic has only 14 properties,
// so Warren never sets it and ignores it, and bit 1, on decoding.
const (
	FlagContentType     uint16 = 1 << 15 // FlagContentType marks content-type present.
	FlagContentEncoding uint16 = 1 << 14 // FlagContentEncoding marks content-encoding present.
	FlagHeaders         uint16 = 1 << 13 // FlagHeaders marks headers present.
	FlagDeliveryMode    uint16 = 1 << 12 // FlagDeliveryMode marks delivery-mode present.
	FlagPriority        uint16 = 1 << 11 // FlagPriority marks priority present.
	FlagCorrelationID   uint16 = 1 << 10 // FlagCorrelationID marks correlation-id present.
	FlagReplyTo         uint16 = 1 << 9  // FlagReplyTo marks reply-to present.
	FlagExpiration      uint16 = 1 << 8  // FlagExpiration marks expiration present.
	FlagMessageID       uint16 = 1 << 7  // FlagMessageID marks message-id present.
	FlagTimestamp       uint16 = 1 << 6  // FlagTimestamp marks timestamp present.
	FlagType            uint16 = 1 << 5  // FlagType marks type present.
	FlagUserID          uint16 = 1 << 4  // FlagUserID marks user-id present.
	FlagAppID           uint16 = 1 << 3  // FlagAppID marks app-id present.
	FlagClusterID       uint16 = 1 << 2  // FlagClusterID marks cluster-id present.

	// flagsKnown masks the flags of the 14 basic properties.
	flagsKnown uint16 = 0xfffc
)

// Properties are the content properties of the basic class. Flags records
// which properties are present; Append writes exactly the properties whose
// flag is set (a set flag with a zero value is written as that zero value,
// an unset flag omits the property whatever its value), and Decode sets
// Flags to what was received. Timestamp is in seconds since the epoch.
// Flags sits beside the two octets so that the struct has no padding
// (184 bytes), which keeps a queue.Message in the 288-byte size class.
type Properties struct {
	ContentType     string
	ContentEncoding string
	Headers         Table
	DeliveryMode    uint8
	Priority        uint8
	Flags           uint16
	CorrelationID   string
	ReplyTo         string
	Expiration      string
	MessageID       string
	Timestamp       uint64
	Type            string
	UserID          string
	AppID           string
	ClusterID       string
}

// Append appends the property flags and the present properties to b.
func (p *Properties) Append(b []byte) []byte {
	f := p.Flags & flagsKnown
	b = appendUint16(b, f)
	if f == 0 {
		return b
	}
	if f&FlagContentType != 0 {
		b = appendShortstr(b, p.ContentType)
	}
	if f&FlagContentEncoding != 0 {
		b = appendShortstr(b, p.ContentEncoding)
	}
	if f&FlagHeaders != 0 {
		b = AppendTable(b, p.Headers)
	}
	if f&FlagDeliveryMode != 0 {
		b = append(b, p.DeliveryMode)
	}
	if f&FlagPriority != 0 {
		b = append(b, p.Priority)
	}
	if f&FlagCorrelationID != 0 {
		b = appendShortstr(b, p.CorrelationID)
	}
	if f&FlagReplyTo != 0 {
		b = appendShortstr(b, p.ReplyTo)
	}
	if f&FlagExpiration != 0 {
		b = appendShortstr(b, p.Expiration)
	}
	if f&FlagMessageID != 0 {
		b = appendShortstr(b, p.MessageID)
	}
	if f&FlagTimestamp != 0 {
		b = appendUint64(b, p.Timestamp)
	}
	if f&FlagType != 0 {
		b = appendShortstr(b, p.Type)
	}
	if f&FlagUserID != 0 {
		b = appendShortstr(b, p.UserID)
	}
	if f&FlagAppID != 0 {
		b = appendShortstr(b, p.AppID)
	}
	if f&FlagClusterID != 0 {
		b = appendShortstr(b, p.ClusterID)
	}
	return b
}

// Decode replaces p with the properties in raw (property flags and property
// list, as returned by DecodeContentHeader). Absent properties become zero.
// Strings never alias raw. Truncated or surplus octets, or a malformed
// headers table, give "FRAME_ERROR - cannot decode <<...>>" for class basic.
func (p *Properties) Decode(raw []byte) error {
	d := decoder{buf: raw}
	f := d.uint16() & flagsKnown
	*p = Properties{
		Flags: f,
		// Keep strings equal to the next ones to avoid allocating again.
		ContentType: p.ContentType, ContentEncoding: p.ContentEncoding,
		CorrelationID: p.CorrelationID, ReplyTo: p.ReplyTo, Expiration: p.Expiration,
		MessageID: p.MessageID, Type: p.Type, UserID: p.UserID, AppID: p.AppID,
		ClusterID: p.ClusterID,
	}
	p.str(&d, f&FlagContentType, &p.ContentType)
	p.str(&d, f&FlagContentEncoding, &p.ContentEncoding)
	if f&FlagHeaders != 0 {
		p.Headers = d.table()
	}
	if f&FlagDeliveryMode != 0 {
		p.DeliveryMode = d.octet()
	}
	if f&FlagPriority != 0 {
		p.Priority = d.octet()
	}
	p.str(&d, f&FlagCorrelationID, &p.CorrelationID)
	p.str(&d, f&FlagReplyTo, &p.ReplyTo)
	p.str(&d, f&FlagExpiration, &p.Expiration)
	p.str(&d, f&FlagMessageID, &p.MessageID)
	if f&FlagTimestamp != 0 {
		p.Timestamp = d.uint64()
	}
	p.str(&d, f&FlagType, &p.Type)
	p.str(&d, f&FlagUserID, &p.UserID)
	p.str(&d, f&FlagAppID, &p.AppID)
	p.str(&d, f&FlagClusterID, &p.ClusterID)
	if err := d.finish(ClassBasic, 0); err != nil {
		return err
	}
	return nil
}

func (*Properties) str(d *decoder, present uint16, dst *string) {
	if present == 0 {
		*dst = ""
		return
	}
	d.shortstr(dst)
}

// RawProperties is an encoded property list (flags and properties, exactly
// as received in a content header). Its accessors read single properties
// without decoding the rest, for the broker's per-message hot path; they
// return zero values and false when the property is absent or raw is
// malformed.
type RawProperties []byte

// Flags returns the property flags.
func (r RawProperties) Flags() uint16 {
	if len(r) < 2 {
		return 0
	}
	return getUint16(r) & flagsKnown
}

// offset returns where the property with the given flag starts, skipping the
// present properties before it, or -1 when it is absent or raw is malformed.
func (r RawProperties) offset(flag uint16) int {
	f := r.Flags()
	if f&flag == 0 {
		return -1
	}
	pos := 2
	for bit := FlagContentType; bit > flag; bit >>= 1 {
		if f&bit == 0 {
			continue
		}
		if pos >= len(r) {
			return -1
		}
		switch bit {
		case FlagHeaders:
			if len(r)-pos < 4 {
				return -1
			}
			pos += 4 + int(getUint32(r[pos:]))
		case FlagDeliveryMode, FlagPriority:
			pos++
		case FlagTimestamp:
			pos += 8
		default: // short strings
			pos += 1 + int(r[pos])
		}
		if pos > len(r) || pos < 0 {
			return -1
		}
	}
	if pos >= len(r) {
		return -1
	}
	return pos
}

func (r RawProperties) octet(flag uint16) (uint8, bool) {
	pos := r.offset(flag)
	if pos < 0 {
		return 0, false
	}
	return r[pos], true
}

func (r RawProperties) shortstr(flag uint16) ([]byte, bool) {
	pos := r.offset(flag)
	if pos < 0 || len(r)-pos-1 < int(r[pos]) {
		return nil, false
	}
	return r[pos+1 : pos+1+int(r[pos])], true
}

// DeliveryMode returns the delivery-mode property (2 is persistent).
func (r RawProperties) DeliveryMode() (uint8, bool) { return r.octet(FlagDeliveryMode) }

// Priority returns the priority property.
func (r RawProperties) Priority() (uint8, bool) { return r.octet(FlagPriority) }

// Expiration returns the expiration property; the bytes alias r.
func (r RawProperties) Expiration() ([]byte, bool) { return r.shortstr(FlagExpiration) }

// UserID returns the user-id property; the bytes alias r.
func (r RawProperties) UserID() ([]byte, bool) { return r.shortstr(FlagUserID) }

// HasHeaders reports whether the headers property is present.
func (r RawProperties) HasHeaders() bool { return r.Flags()&FlagHeaders != 0 }

// Headers decodes just the headers property (nil when absent or empty).
func (r RawProperties) Headers() (Table, error) {
	pos := r.offset(FlagHeaders)
	if pos < 0 {
		if r.HasHeaders() {
			return nil, cannotDecode(r, ClassBasic, 0)
		}
		return nil, nil
	}
	t, _, err := DecodeTable(r[pos:])
	return t, err
}
