package broker

import (
	"sort"
)

// unackedEntry is one delivery awaiting settlement.
type unackedEntry struct {
	tag    uint64
	id     uint64    // the queue's id for the message
	s      *session  // the session it came through; nil once settled
	k      *consumer // nil for basic.get
	at     int64     // delivery time, server clock milliseconds
	credit bool      // counted against the channel's prefetch
}

// unackedList holds a channel's unacked deliveries ordered by delivery tag.
// Tags only grow, so new entries go at the back, "ack multiple" and acks
// at the head are cheap, and any tag is found by binary search. Settled
// entries in the middle stay as tombstones (q == nil) until the head
// passes them.
type unackedList struct {
	items []unackedEntry
	head  int
	live  int
}

func (l *unackedList) push(e unackedEntry) {
	l.items = append(l.items, e)
	l.live++
}

// find returns the index of the entry with tag, or -1.
func (l *unackedList) find(tag uint64) int {
	s := l.items[l.head:]
	i := sort.Search(len(s), func(i int) bool { return s[i].tag >= tag })
	if i < len(s) && s[i].tag == tag && s[i].s != nil {
		return l.head + i
	}
	return -1
}

// take removes the entry with tag (and, with multiple, every entry before
// it; tag 0 with multiple means all) and appends them to out. ok is false
// when tag is not an unacked delivery.
func (l *unackedList) take(tag uint64, multiple bool, out []unackedEntry) ([]unackedEntry, bool) {
	if multiple && tag == 0 {
		return l.takeAll(out), true
	}
	i := l.find(tag)
	if i < 0 {
		return out, false
	}
	if !multiple {
		out = append(out, l.items[i])
		l.items[i].s = nil
		l.items[i].k = nil
		l.live--
		l.trim()
		return out, true
	}
	for j := l.head; j <= i; j++ {
		if l.items[j].s != nil {
			out = append(out, l.items[j])
			l.live--
		}
		l.items[j] = unackedEntry{}
	}
	l.head = i + 1
	l.trim()
	return out, true
}

// takeAll removes every entry, appending them to out.
func (l *unackedList) takeAll(out []unackedEntry) []unackedEntry {
	for _, e := range l.items[l.head:] {
		if e.s != nil {
			out = append(out, e)
		}
	}
	l.items = l.items[:0]
	l.head, l.live = 0, 0
	if cap(l.items) > 1024 {
		l.items = nil
	}
	return out
}

// trim drops settled entries at the head and compacts the slice.
func (l *unackedList) trim() {
	for l.head < len(l.items) && l.items[l.head].s == nil {
		l.items[l.head] = unackedEntry{}
		l.head++
	}
	if l.head == len(l.items) {
		l.items = l.items[:0]
		l.head = 0
		if cap(l.items) > 1024 {
			l.items = nil
		}
		return
	}
	if l.head > 256 && l.head > len(l.items)/2 {
		n := copy(l.items, l.items[l.head:])
		clear(l.items[n:])
		l.items = l.items[:n]
		l.head = 0
	}
}

// restore puts entries taken by take back (a rolled-back transaction).
func (l *unackedList) restore(es []unackedEntry) {
	if len(es) == 0 {
		return
	}
	all := make([]unackedEntry, 0, l.live+len(es))
	for _, e := range l.items[l.head:] {
		if e.s != nil {
			all = append(all, e)
		}
	}
	all = append(all, es...)
	sort.Slice(all, func(i, j int) bool { return all[i].tag < all[j].tag })
	l.items, l.head, l.live = all, 0, len(all)
}
