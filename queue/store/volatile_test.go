package store

import (
	"bytes"
	"testing"
)

// A volatile store never syncs (a power loss keeps nothing of it), reads
// back what it wrote, and is emptied when it is opened again, whatever it
// held: its records never outlive the process.
func TestVolatileStore(t *testing.T) {
	fs := newMemFS()
	s := openStore(t, "/spill", Options{FS: fs, Volatile: true})
	l, _ := openLog(t, s, "q1")
	const n = 100
	for i := range uint64(n) {
		if _, err := l.Append(0, payload(i, 200)); err != nil {
			t.Fatal(err)
		}
	}
	wait(t, l, n)
	got := readAll(t, l, 1)
	if len(got) != n {
		t.Fatalf("read back %d records, want %d", len(got), n)
	}
	for i, r := range got {
		if !bytes.Equal(r.Data, payload(uint64(i), 200)) || r.Recovered {
			t.Fatalf("record %d: %x recovered=%v", i, r.Data[:8], r.Recovered)
		}
	}
	if err := l.Settle(1, 2, 3); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if names, _ := fs.crash().ReadDir("/spill/q1"); len(names) != 0 {
		t.Fatalf("a power loss keeps %v of a volatile store", names)
	}
	if names, err := fs.ReadDir("/spill/q1"); err != nil || len(names) == 0 {
		t.Fatalf("the log's files are not written: %v %v", names, err)
	}
	s.Close()

	s2 := openStore(t, "/spill", Options{FS: fs, Volatile: true})
	if ids, err := s2.IDs(); err != nil || len(ids) != 0 {
		t.Fatalf("reopened volatile store holds %v (%v), want nothing", ids, err)
	}
	l2, rec := openLog(t, s2, "q1")
	if rec.Count != 0 || l2.Len() != 0 {
		t.Fatalf("reopened log recovers %d records", rec.Count)
	}
}
