package protocol

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

// The fuzz targets check that no input panics, that errors are *Error (or
// the reader's io errors), and that whatever decodes re-encodes to an
// equivalent value. Seeds come from real encodings; the corpora live in
// testdata/fuzz/<FuzzName>/.

func seedFrames() [][]byte {
	var seeds [][]byte
	for _, m := range sampleMethods(0) {
		seeds = append(seeds, AppendMethodFrame(nil, 1, m))
	}
	p := allProperties()
	seeds = append(seeds,
		AppendHeaderFrame(nil, 1, ClassBasic, 5, &p),
		AppendBodyFrames(nil, 1, []byte("hello"), 4096),
		AppendHeartbeat(nil),
	)
	return seeds
}

func FuzzReadFrame(f *testing.F) {
	var all []byte
	for _, s := range seedFrames() {
		f.Add(s, uint32(0))
		all = append(all, s...)
	}
	f.Add(all, uint32(4096))
	f.Fuzz(func(t *testing.T, in []byte, frameMax uint32) {
		r := NewFrameReader(bytes.NewReader(in))
		r.SetFrameMax(frameMax)
		for range 1000 {
			fr, err := r.ReadFrame()
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return
			}
			var e *Error
			if err != nil {
				if !errors.As(err, &e) || e.Code != FrameError {
					t.Fatalf("unexpected error %v", err)
				}
				if r.err != nil {
					return
				}
				continue
			}
			if frameMax != 0 && uint32(len(fr.Payload)) > frameMax {
				t.Fatalf("payload %d beyond frame max %d", len(fr.Payload), frameMax)
			}
			if cap(r.buf) > len(in)+initialReadBuffer+frameOverhead {
				t.Fatalf("buffer %d for %d bytes of input", cap(r.buf), len(in))
			}
			switch fr.Type {
			case FrameMethod:
				_, _ = DecodeMethod(fr.Payload)
			case FrameHeader:
				if _, _, raw, err := DecodeContentHeader(fr.Payload); err == nil {
					var p Properties
					_ = p.Decode(raw)
				}
			}
		}
	})
}

func FuzzDecodeMethod(f *testing.F) {
	for _, s := range seedFrames() {
		if s[0] == FrameMethod {
			f.Add(s[7 : len(s)-1])
		}
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		in := bytes.Clone(payload)
		m, err := DecodeMethod(in)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !e.Hard() || m != nil {
				t.Fatalf("error %v is not a hard *Error", err)
			}
			return
		}
		// Decoded strings must not alias the input: scribble over it.
		enc := m.AppendArgs(nil)
		for i := range in {
			in[i] ^= 0xff
		}
		if again := m.AppendArgs(nil); !bytes.Equal(enc, again) {
			t.Fatalf("decoded %s aliases its input", m.Name())
		}
		m2 := NewMethod(m.ClassID(), m.MethodID())
		if err := m2.DecodeArgs(enc); err != nil {
			t.Fatalf("re-decoding %s: %v", m.Name(), err)
		}
		if !bytes.Equal(m2.AppendArgs(nil), enc) {
			t.Fatalf("%s does not re-encode stably", m.Name())
		}
	})
}

func FuzzDecodeTable(f *testing.F) {
	f.Add(AppendTable(nil, everyTag()))
	f.Add(AppendTable(nil, Table{"x-queue-type": "quorum", "x-max-length": int64(10)}))
	f.Add([]byte{0, 0, 0, 3, 1, 'k', 'L'})
	f.Fuzz(func(t *testing.T, in []byte) {
		tbl, n, err := DecodeTable(in)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != FrameError {
				t.Fatalf("error %v is not a FRAME_ERROR", err)
			}
			return
		}
		if n < 4 || n > len(in) {
			t.Fatalf("consumed %d of %d", n, len(in))
		}
		enc := AppendTable(nil, tbl)
		back, _, err := DecodeTable(enc)
		if err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
		if !reflect.DeepEqual(normalize(back), normalize(tbl)) {
			t.Fatalf("round trip:\n%#v\n%#v", back, tbl)
		}
	})
}

// normalize maps values DeepEqual cannot compare as AMQP does: NaNs.
func normalize(v any) any {
	switch v := v.(type) {
	case Table:
		out := Table{}
		for k, e := range v {
			out[k] = normalize(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = normalize(e)
		}
		return out
	case float32:
		if v != v {
			return "NaN32"
		}
	case float64:
		if v != v {
			return "NaN64"
		}
	}
	return v
}

func FuzzDecodeProperties(f *testing.F) {
	p := allProperties()
	f.Add(p.Append(nil))
	f.Add((&Properties{Flags: FlagDeliveryMode | FlagExpiration, DeliveryMode: 2, Expiration: "100"}).Append(nil))
	f.Add([]byte{0, 0})
	f.Fuzz(func(t *testing.T, raw []byte) {
		r := RawProperties(raw)
		mode, modeOK := r.DeliveryMode()
		user, userOK := r.UserID()
		exp, expOK := r.Expiration()
		prio, prioOK := r.Priority()
		var p Properties
		if err := p.Decode(raw); err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != FrameError {
				t.Fatalf("error %v is not a FRAME_ERROR", err)
			}
			return
		}
		// The raw accessors agree with the full decode.
		if modeOK != (p.Flags&FlagDeliveryMode != 0) || mode != p.DeliveryMode ||
			userOK != (p.Flags&FlagUserID != 0) || string(user) != p.UserID ||
			expOK != (p.Flags&FlagExpiration != 0) || string(exp) != p.Expiration ||
			prioOK != (p.Flags&FlagPriority != 0) || prio != p.Priority {
			t.Fatalf("raw accessors disagree with Decode: %+v", p)
		}
		var back Properties
		if err := back.Decode(p.Append(nil)); err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
		if !bytes.Equal(back.Append(nil), p.Append(nil)) {
			t.Fatalf("properties do not re-encode stably")
		}
	})
}
