package wal

import (
	"bytes"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// An entry survives its codec, and no input makes the decoder panic or
// allocate past the record's size.
func FuzzDecodeEntry(f *testing.F) {
	f.Add(uint64(7), uint64(3), uint8(0), int64(1700000000000000000), []byte("data"), []byte("ext"))
	f.Add(uint64(0), uint64(0), uint8(4), int64(0), []byte(nil), []byte(nil))
	f.Fuzz(func(t *testing.T, index, term uint64, typ uint8, at int64, data, ext []byte) {
		in := raft.Log{Index: index, Term: term, Type: raft.LogType(typ), Data: data, Extensions: ext}
		if at != 0 {
			in.AppendedAt = time.Unix(0, at)
		}
		b := appendEntry(nil, 42, 9, &in)
		id, prev, body, err := parseGroupHdr(b)
		if err != nil || id != 42 || prev != 9 {
			t.Fatalf("header: %d %d %v", id, prev, err)
		}
		var out raft.Log
		if err := decodeEntry(body, &out); err != nil {
			t.Fatal(err)
		}
		if out.Index != in.Index || out.Term != in.Term || out.Type != in.Type ||
			!bytes.Equal(out.Data, in.Data) || !bytes.Equal(out.Extensions, in.Extensions) || !out.AppendedAt.Equal(in.AppendedAt) {
			t.Fatalf("decoded %+v, want %+v", out, in)
		}
		// Arbitrary bytes: an error or an entry, never a panic.
		_ = decodeEntry(data, &out)
		_, _, _ = decodeStable(data)
	})
}
