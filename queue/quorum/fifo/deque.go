package fifo

// msg is what the state keeps of a message: its header, never its body.
type msg struct {
	index    uint64 // Raft index of its Enqueue: identity and body reference
	expiry   int64  // Unix ms at which it expires while ready; 0 never
	size     uint32 // body bytes
	count    uint32 // failed deliveries (x-delivery-count)
	acquired uint32 // deliveries that came back, failed or not
	high     bool   // priority above 4
}

// deque is a ring buffer of messages, in delivery order.
type deque struct {
	buf  []msg
	head int
	n    int
}

func (d *deque) len() int { return d.n }

func (d *deque) at(i int) *msg { return &d.buf[(d.head+i)%len(d.buf)] }

func (d *deque) front() *msg { return d.at(0) }

func (d *deque) push(m msg) {
	if d.n == len(d.buf) {
		d.grow()
	}
	d.buf[(d.head+d.n)%len(d.buf)] = m
	d.n++
}

func (d *deque) pop() msg {
	m := d.buf[d.head]
	d.buf[d.head] = msg{}
	d.head = (d.head + 1) % len(d.buf)
	d.n--
	if d.n == 0 {
		d.head = 0
	}
	return m
}

func (d *deque) grow() {
	nb := make([]msg, max(8, 2*len(d.buf)))
	for i := range d.n {
		nb[i] = *d.at(i)
	}
	d.buf, d.head = nb, 0
}

// clear empties the deque, keeping its buffer.
func (d *deque) clear() {
	clear(d.buf)
	d.head, d.n = 0, 0
}
