package store

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
)

// Every record, in segments and in the settle log alike, is framed as
//
//	0  magic  2 bytes  'W' 'Q'
//	2  kind   1 byte   kindEnqueue, kindSeal or kindSettle
//	3  flags  1 byte   the appender's flags (enqueue records)
//	4  length 4 bytes  payload length, little endian
//	8  seq    8 bytes  the record's sequence number
//	16 crc    4 bytes  CRC-32C of bytes 0..16 and of the payload
//	20 payload
//
// The magic lets a scanner find the next record after damaged bytes; the
// sequence number, contiguous within a log, tells it how many were lost.
const (
	hdrSize = 20

	magic0 = 'W'
	magic1 = 'Q'

	kindEnqueue = 1
	kindSeal    = 2
	kindSettle  = 3

	// maxPayload bounds the length field so that a damaged length cannot
	// make a reader allocate gigabytes.
	maxPayload = 512 << 20

	// sealPayload is the payload size of a seal record: first seq and count.
	sealPayload = 16
	sealSize    = hdrSize + sealPayload
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// header is a parsed record header.
type header struct {
	kind   uint8
	flags  uint8
	length uint32
	seq    uint64
	crc    uint32
}

// appendRecord appends one framed record to dst.
func appendRecord(dst []byte, kind, flags uint8, seq uint64, payload []byte) []byte {
	start := len(dst)
	dst = append(dst, magic0, magic1, kind, flags, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	h := dst[start:]
	binary.LittleEndian.PutUint32(h[4:], uint32(len(payload)))
	binary.LittleEndian.PutUint64(h[8:], seq)
	crc := crc32.Update(crc32.Checksum(h[:16], castagnoli), castagnoli, payload)
	binary.LittleEndian.PutUint32(h[16:], crc)
	return append(dst, payload...)
}

// parseHeader decodes b[:hdrSize], reporting false when it cannot be the
// start of a record.
func parseHeader(b []byte) (header, bool) {
	if b[0] != magic0 || b[1] != magic1 {
		return header{}, false
	}
	h := header{
		kind:   b[2],
		flags:  b[3],
		length: binary.LittleEndian.Uint32(b[4:]),
		seq:    binary.LittleEndian.Uint64(b[8:]),
		crc:    binary.LittleEndian.Uint32(b[16:]),
	}
	if h.kind < kindEnqueue || h.kind > kindSettle || h.length > maxPayload {
		return header{}, false
	}
	return h, true
}

// checksumOK reports whether rec (header and payload) carries a valid CRC.
func checksumOK(rec []byte) bool {
	want := binary.LittleEndian.Uint32(rec[16:])
	got := crc32.Update(crc32.Checksum(rec[:16], castagnoli), castagnoli, rec[hdrSize:])
	return got == want
}

// rawRecord is a record as read from a file. payload aliases the reader's
// buffer and is valid until the next call.
type rawRecord struct {
	header
	off     int64 // file offset of the header
	payload []byte
}

// size is the record's size on disk.
func (r *rawRecord) size() int64 { return hdrSize + int64(r.length) }

// The outcomes of recordReader.next.
const (
	readOK  = iota // a valid record
	readEnd        // exactly at the limit: a clean end
	readBad        // the bytes at this position are not a valid record
)

// recordReader reads framed records sequentially from a file, through a
// buffer, up to a limit (the file size, or what has been written).
type recordReader struct {
	f     File
	limit int64
	off   int64 // file offset of buf[0]
	buf   []byte
	n     int // valid bytes in buf
	pos   int // position of the next record in buf
}

const readBufSize = 256 << 10

func newRecordReader(f File, start, limit int64, buf []byte) *recordReader {
	if cap(buf) < readBufSize {
		buf = make([]byte, readBufSize)
	}
	return &recordReader{f: f, limit: limit, off: start, buf: buf[:cap(buf)]}
}

// reset points the reader at another file, dropping what is buffered.
func (r *recordReader) reset(f File, off, limit int64) {
	r.f, r.off, r.limit, r.n, r.pos = f, off, limit, 0, 0
}

// at is the file offset of the next record.
func (r *recordReader) at() int64 { return r.off + int64(r.pos) }

// seek moves to file offset off.
func (r *recordReader) seek(off int64) {
	if off >= r.off && off <= r.off+int64(r.n) {
		r.pos = int(off - r.off)
		return
	}
	r.off, r.n, r.pos = off, 0, 0
}

// ensure makes k bytes from the current position available in the buffer,
// reporting false when the limit comes first.
func (r *recordReader) ensure(k int) (bool, error) {
	if r.at()+int64(k) > r.limit {
		return false, nil
	}
	for r.pos+k > r.n {
		if k > len(r.buf) {
			nb := make([]byte, k)
			copy(nb, r.buf[r.pos:r.n])
			r.off += int64(r.pos)
			r.n -= r.pos
			r.pos = 0
			r.buf = nb
		}
		progress, err := r.fill()
		if err != nil {
			return false, err
		}
		if !progress {
			return false, nil
		}
	}
	return true, nil
}

// fill moves the unread bytes to the front of the buffer and reads as much
// as fits, up to the limit. It reports whether it read anything.
func (r *recordReader) fill() (bool, error) {
	rest := copy(r.buf, r.buf[r.pos:r.n])
	r.off += int64(r.pos)
	r.pos, r.n = 0, rest
	want := int64(len(r.buf))
	if max := r.limit - r.off; want > max {
		want = max
	}
	if int64(r.n) >= want {
		return false, nil
	}
	m, err := r.f.ReadAt(r.buf[r.n:want], r.off+int64(r.n))
	r.n += m
	if err != nil {
		if errors.Is(err, io.EOF) {
			// The file is shorter than the limit said: that is where it ends.
			r.limit = r.off + int64(r.n)
			return m > 0, nil
		}
		return m > 0, err
	}
	return m > 0, nil
}

// next reads the record at the current position and, when it is valid,
// moves past it.
func (r *recordReader) next() (rawRecord, int, error) {
	if r.at() == r.limit {
		return rawRecord{}, readEnd, nil
	}
	rec, ok, err := r.peek()
	if err != nil || !ok {
		return rawRecord{}, readBad, err
	}
	r.pos += int(rec.size())
	return rec, readOK, nil
}

// peek validates the record at the current position without moving.
func (r *recordReader) peek() (rawRecord, bool, error) {
	ok, err := r.ensure(hdrSize)
	if err != nil || !ok {
		return rawRecord{}, false, err
	}
	h, ok := parseHeader(r.buf[r.pos:])
	if !ok {
		return rawRecord{}, false, nil
	}
	size := hdrSize + int(h.length)
	if ok, err = r.ensure(size); err != nil || !ok {
		return rawRecord{}, false, err
	}
	b := r.buf[r.pos : r.pos+size]
	if !checksumOK(b) {
		return rawRecord{}, false, nil
	}
	return rawRecord{header: h, off: r.at(), payload: b[hdrSize:]}, true, nil
}

// resync moves forward from a damaged position to the next offset where a
// valid record starts, for which accept returns true. It reports false,
// leaving the reader at the limit, when there is none.
func (r *recordReader) resync(accept func(header) bool) (bool, error) {
	r.pos++
	for {
		if r.at()+hdrSize > r.limit {
			r.seek(r.limit)
			return false, nil
		}
		if r.pos+hdrSize > r.n {
			progress, err := r.fill()
			if err != nil {
				return false, err
			}
			if !progress && r.pos+hdrSize > r.n {
				r.seek(r.limit)
				return false, nil
			}
		}
		// Look for the magic in what is buffered.
		i := r.pos
		for i+1 < r.n && !(r.buf[i] == magic0 && r.buf[i+1] == magic1) {
			i++
		}
		if i+1 >= r.n {
			r.pos = i // the last byte may start a magic
			if _, err := r.fill(); err != nil {
				return false, err
			}
			continue
		}
		r.pos = i
		rec, ok, err := r.peek()
		if err != nil {
			return false, err
		}
		if ok && accept(rec.header) {
			return true, nil
		}
		r.pos++
	}
}
