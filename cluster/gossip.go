package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"go.uber.org/zap"
)

// gossipService is the stream service memberlist's streams use.
const gossipService = "gossip"

// maxPacket is the largest UDP payload.
const maxPacket = 65535

// gossipTransport is memberlist's Transport over a cluster Transport:
// packets on its UDP socket (the cluster port number), streams as the
// "gossip" service. It runs two goroutines, the packet reader and the
// stream acceptor, which Shutdown (memberlist calls it) stops and joins.
type gossipTransport struct {
	t       *Transport
	ln      *serviceListener
	packets chan *memberlist.Packet
	streams chan net.Conn
	conns   connSet // streams dialled and accepted, closed by Shutdown

	ctx    context.Context // cancelled by Shutdown
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

var _ memberlist.Transport = (*gossipTransport)(nil)

func newGossipTransport(t *Transport) (*gossipTransport, error) {
	ln, err := t.listen(gossipService)
	if errors.Is(err, ErrServiceInUse) {
		return nil, errors.New("cluster: a Membership already runs on this transport")
	}
	if err != nil {
		return nil, err
	}
	// A previous Membership on this transport woke its reader with a past
	// deadline.
	_ = t.udp.SetReadDeadline(time.Time{})
	g := &gossipTransport{
		t:       t,
		ln:      ln,
		packets: make(chan *memberlist.Packet),
		streams: make(chan net.Conn),
	}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	g.wg.Add(2)
	go g.readPackets()
	go g.acceptStreams()
	return g, nil
}

// FinalAdvertiseAddr is the transport's advertised address, whose host is
// resolved to an IP (memberlist gossips IPs).
func (g *gossipTransport) FinalAdvertiseAddr(string, int) (net.IP, int, error) {
	host, p, err := net.SplitHostPort(g.t.Addr())
	if err != nil {
		return nil, 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return nil, 0, fmt.Errorf("cluster: advertised port %q: %w", p, err)
	}
	ip := net.ParseIP(host)
	if ip == nil {
		ips, err := net.LookupIP(host)
		if err != nil || len(ips) == 0 {
			return nil, 0, fmt.Errorf("cluster: resolve advertised host %q: %v", host, err)
		}
		ip = ips[0]
	}
	if ip4 := ip.To4(); ip4 != nil {
		ip = ip4
	}
	return ip, port, nil
}

// WriteTo sends one packet to addr over UDP.
func (g *gossipTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return time.Time{}, err
	}
	_, err = g.t.udp.WriteTo(b, ua)
	return time.Now(), err
}

// PacketCh delivers the packets received.
func (g *gossipTransport) PacketCh() <-chan *memberlist.Packet { return g.packets }

// DialTimeout opens a gossip stream to addr.
func (g *gossipTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(g.ctx, timeout)
	defer cancel()
	c, err := g.t.Dial(ctx, addr, gossipService)
	if err != nil {
		return nil, err
	}
	return g.conns.track(c)
}

// StreamCh delivers the gossip streams other nodes open.
func (g *gossipTransport) StreamCh() <-chan net.Conn { return g.streams }

// Shutdown stops the reader and the acceptor, waits for them and closes
// every gossip stream.
func (g *gossipTransport) Shutdown() error {
	g.once.Do(func() {
		g.cancel()
		g.ln.Close()
		g.conns.closeAll()
		_ = g.t.udp.SetReadDeadline(time.Now())
		g.wg.Wait()
	})
	return nil
}

func (g *gossipTransport) readPackets() {
	defer g.wg.Done()
	buf := make([]byte, maxPacket)
	for {
		n, from, err := g.t.udp.ReadFrom(buf)
		now := time.Now()
		if g.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			g.t.logLimited("gossip-read", "cluster: reading a gossip packet failed", zap.Error(err))
			continue
		}
		if n == 0 {
			continue
		}
		p := &memberlist.Packet{Buf: append([]byte(nil), buf[:n]...), From: from, Timestamp: now}
		select {
		case g.packets <- p:
		case <-g.ctx.Done():
			return
		}
	}
}

func (g *gossipTransport) acceptStreams() {
	defer g.wg.Done()
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		if c, err = g.conns.track(c); err != nil {
			return
		}
		select {
		case g.streams <- c:
		case <-g.ctx.Done():
			c.Close()
			return
		}
	}
}
