package broker

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/queue"
)

// A direct reply-to reply published on one node to a requester on another
// goes to the requester's node over the cluster port's service "replies":
// one stream per peer node, opened on first use, carrying frames of
//
//	length uvarint, then vhost and key (uvarint length, bytes each) and
//	the message (queue.AppendMessage)
//
// The receiving node routes each to the channel the key names, as a
// reply published there; a reply whose requester has gone is dropped, as
// on one node. A reply that cannot be sent (the node is down) is dropped
// too: RabbitMQ's direct reply-to promises no more.

// repliesService is the cluster port's service for forwarded replies.
const repliesService = "replies"

// maxReplyFrame bounds a forwarded reply: the largest message and its
// names.
const maxReplyFrame = absoluteMaxMessageSize + 1024

// replyLinks holds this node's outgoing reply streams, by node address.
type replyLinks struct {
	port clusterPort
	log  *zap.Logger

	mu    sync.Mutex
	links map[string]*replyLink
}

// replyLink is one stream to a peer; mu serializes its frames.
type replyLink struct {
	mu sync.Mutex
	nc net.Conn // nil until dialled, and after a failure
}

// remoteReply is a reply's route to a requester on another node.
type remoteReply struct {
	links      *replyLinks
	addr       string
	vhost, key string
}

// replyTarget returns the route to the requester of key on node, or nil
// when the node is not a member.
func (n *clusterNode) replyTarget(vhost, key, node string) replyTarget {
	addr := n.addrOf(node)
	if addr == "" {
		return nil
	}
	return &remoteReply{links: n.replies, addr: addr, vhost: vhost, key: key}
}

// deliverReply implements replyTarget: it writes the reply to the
// requester's node, waiting at most replyWriteTimeout.
func (r *remoteReply) deliverReply(msg *queue.Message) {
	r.links.send(r.addr, r.vhost, r.key, msg)
}

// replyWriteTimeout bounds sending one reply to a node.
const replyWriteTimeout = 5 * time.Second

func (l *replyLinks) send(addr, vhost, key string, msg *queue.Message) {
	l.mu.Lock()
	link := l.links[addr]
	if link == nil {
		link = &replyLink{}
		l.links[addr] = link
	}
	l.mu.Unlock()
	body := appendStr(appendStr(nil, vhost), key)
	body = queue.AppendMessage(body, msg)
	frame := append(binary.AppendUvarint(nil, uint64(len(body))), body...)
	link.mu.Lock()
	defer link.mu.Unlock()
	for attempt := 0; attempt < 2; attempt++ {
		if link.nc == nil {
			ctx, cancel := context.WithTimeout(context.Background(), replyWriteTimeout)
			nc, err := l.port.Dial(ctx, addr, repliesService)
			cancel()
			if err != nil {
				l.log.Debug("direct reply-to reply dropped: its node cannot be reached", zap.String("addr", addr), zap.Error(err))
				return
			}
			link.nc = nc
		}
		link.nc.SetWriteDeadline(time.Now().Add(replyWriteTimeout))
		if _, err := link.nc.Write(frame); err == nil {
			return
		}
		link.nc.Close()
		link.nc = nil // a stream that failed is dialled again, once
	}
}

// close ends every outgoing stream.
func (l *replyLinks) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, link := range l.links {
		link.mu.Lock()
		if link.nc != nil {
			link.nc.Close()
		}
		link.mu.Unlock()
	}
}

func appendStr(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// readReplies routes the replies of one stream until it ends or carries
// a malformed frame.
func (s *Server) readReplies(nc net.Conn) {
	defer nc.Close()
	r := bufio.NewReader(nc)
	for {
		frame, err := readBytes(r, maxReplyFrame)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.log.Warn("forwarded reply stream ended", zap.String("peer", nc.RemoteAddr().String()), zap.Error(err))
			}
			return
		}
		vhost, key, msg, err := decodeReply(frame)
		if err != nil {
			s.log.Warn("malformed forwarded reply; stream closed", zap.String("peer", nc.RemoteAddr().String()), zap.Error(err))
			return
		}
		if v := s.vhost(vhost); v != nil {
			if t := v.replyChannel(key); t != nil {
				if ch, ok := t.(*channel); ok {
					ch.deliverReply(msg)
				}
			}
		}
	}
}

// decodeReply reads one reply frame's body.
func decodeReply(b []byte) (vhost, key string, msg *queue.Message, err error) {
	str := func() string {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			err = errors.New("truncated name")
			return ""
		}
		v := string(b[k : k+int(n)])
		b = b[k+int(n):]
		return v
	}
	vhost = str()
	key = str()
	if err != nil {
		return "", "", nil, err
	}
	msg, err = queue.DecodeMessage(b)
	return vhost, key, msg, err
}
