package quorum

import (
	"bufio"
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

var testHeader = raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("warren1@host"), Addr: []byte("127.0.0.1:25672")}

// testRequests are requests of every kind the shared transport carries,
// with every field set.
func testRequests() []struct {
	name string
	kind byte
	req  any
} {
	at := time.Unix(1700000000, 123456789)
	return []struct {
		name string
		kind byte
		req  any
	}{
		{"heartbeat", kindAppendEntries, &raft.AppendEntriesRequest{RPCHeader: testHeader, Term: 7}},
		{"append entries", kindAppendEntries, &raft.AppendEntriesRequest{RPCHeader: testHeader, Term: 7,
			PrevLogEntry: 41, PrevLogTerm: 6, LeaderCommitIndex: 40, Entries: []*raft.Log{
				{Index: 42, Term: 7, Type: raft.LogCommand, Data: []byte("one"), AppendedAt: at},
				{Index: 43, Term: 7, Type: raft.LogConfiguration, Data: []byte("two"), Extensions: []byte("ext")},
			}}},
		{"request vote", kindRequestVote, &raft.RequestVoteRequest{RPCHeader: testHeader, Term: 8,
			LastLogIndex: 43, LastLogTerm: 7, LeadershipTransfer: true}},
		{"request vote, no transfer", kindRequestVote, &raft.RequestVoteRequest{RPCHeader: testHeader, Term: 8, LastLogIndex: 1}},
		{"pre-vote", kindRequestPreVote, &raft.RequestPreVoteRequest{RPCHeader: testHeader, Term: 9, LastLogIndex: 43, LastLogTerm: 7}},
		{"timeout now", kindTimeoutNow, &raft.TimeoutNowRequest{RPCHeader: testHeader}},
		{"install snapshot", kindInstallSnapshot, &raft.InstallSnapshotRequest{RPCHeader: testHeader, SnapshotVersion: 1, Term: 9,
			Leader: testHeader.Addr, LastLogIndex: 100, LastLogTerm: 9, Peers: []byte("peers"), Configuration: []byte("conf"),
			ConfigurationIndex: 3, Size: 1 << 40}},
		{"install snapshot from another leader", kindInstallSnapshot, &raft.InstallSnapshotRequest{RPCHeader: testHeader,
			Leader: []byte("elsewhere:1"), Size: 0}},
	}
}

// testResponses are responses of every kind, with every field set.
func testResponses() []any {
	return []any{
		&raft.AppendEntriesResponse{RPCHeader: testHeader, Term: 7, LastLog: 43, Success: true, NoRetryBackoff: true},
		&raft.RequestVoteResponse{RPCHeader: testHeader, Term: 8, Peers: []byte("p"), Granted: true},
		&raft.RequestPreVoteResponse{RPCHeader: testHeader, Term: 9, Granted: true},
		&raft.TimeoutNowResponse{RPCHeader: testHeader},
		&raft.InstallSnapshotResponse{RPCHeader: testHeader, Term: 9, Success: true},
	}
}

// TestRaftCodecRoundTrip: every request and response decodes to what
// was encoded, field for field.
func TestRaftCodecRoundTrip(t *testing.T) {
	for _, tc := range testRequests() {
		t.Run(tc.name, func(t *testing.T) {
			b := appendRequest(nil, tc.req)
			got, err := decodeRequest(tc.kind, b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.req) {
				t.Fatalf("decoded %+v\nwant    %+v", got, tc.req)
			}
		})
	}
	for _, resp := range testResponses() {
		b, ok := appendResponse([]byte{respOK}, resp)
		if !ok {
			t.Fatalf("%T not encoded", resp)
		}
		got := reflect.New(reflect.TypeOf(resp).Elem()).Interface()
		if err := decodeResponse(b, got); err != nil {
			t.Fatalf("%T: %v", resp, err)
		}
		if !reflect.DeepEqual(got, resp) {
			t.Fatalf("decoded %+v\nwant    %+v", got, resp)
		}
	}
}

// TestRaftCodecErrorResponse: an error answer is the caller's error.
func TestRaftCodecErrorResponse(t *testing.T) {
	b := appendString([]byte{respError}, "replica busy")
	err := decodeResponse(b, &raft.AppendEntriesResponse{})
	if err == nil || err.Error() != "replica busy" {
		t.Fatalf("error %v, want replica busy", err)
	}
	if _, ok := appendResponse(nil, &raft.AppendEntriesRequest{}); ok {
		t.Fatal("a request encoded as a response")
	}
}

// TestRaftCodecHeartbeatSize: an idle group's heartbeat and its answer
// are small, and encoding the heartbeat and decoding the answer into the
// response raft reuses allocate nothing.
func TestRaftCodecHeartbeatSize(t *testing.T) {
	hb := &raft.AppendEntriesRequest{RPCHeader: testHeader, Term: 7}
	resp := &raft.AppendEntriesResponse{RPCHeader: testHeader, Term: 7, LastLog: 1 << 20, Success: true}
	buf := make([]byte, 0, 256)
	frame, start := appendFrameStart(buf, kindAppendEntries, 1<<20)
	frame = finishFrame(appendRequest(appendString(frame, groupName("/", "orders")), hb), start)
	if len(frame) > 64 {
		t.Errorf("heartbeat frame is %d bytes, want at most 64", len(frame))
	}
	answer, _ := appendResponse([]byte{respOK}, resp)
	if len(answer) > 40 {
		t.Errorf("heartbeat answer is %d bytes, want at most 40", len(answer))
	}
	var into raft.AppendEntriesResponse
	if err := decodeResponse(answer, &into); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		frame, start := appendFrameStart(buf[:0], kindAppendEntries, 1<<20)
		finishFrame(appendRequest(appendString(frame, "5:/orders"), hb), start)
		if err := decodeResponse(answer, &into); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per heartbeat, want 0", allocs)
	}
}

// TestRaftCodecCutsLargeAppends: an AppendEntries carries at most
// appendEntriesBytes of entries, at least one, and raft's request is cut
// to what was sent.
func TestRaftCodecCutsLargeAppends(t *testing.T) {
	big := make([]byte, appendEntriesBytes/3)
	tests := []struct {
		name  string
		sizes []int
		want  int
	}{
		{"small ones all go", []int{10, 10, 10}, 3},
		{"three thirds do not fit", []int{len(big), len(big), len(big), len(big)}, 2},
		{"one larger than the limit goes alone", []int{appendEntriesBytes * 2, 10}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := &raft.AppendEntriesRequest{RPCHeader: testHeader, Term: 1}
			for i, n := range tc.sizes {
				req.Entries = append(req.Entries, &raft.Log{Index: uint64(i + 1), Term: 1, Data: make([]byte, n)})
			}
			b := appendRequest(nil, req)
			if len(req.Entries) != tc.want {
				t.Fatalf("request cut to %d entries, want %d", len(req.Entries), tc.want)
			}
			got, err := decodeRequest(kindAppendEntries, b)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(got.(*raft.AppendEntriesRequest).Entries); n != tc.want {
				t.Fatalf("%d entries sent, want %d", n, tc.want)
			}
		})
	}
}

// TestRaftCodecBadInput: every truncation of a valid request or response,
// and bytes appended to one, is refused with errBadRaftFrame; nothing
// panics.
func TestRaftCodecBadInput(t *testing.T) {
	for _, tc := range testRequests() {
		b := appendRequest(nil, tc.req)
		for n := range len(b) {
			if _, err := decodeRequest(tc.kind, b[:n]); !errors.Is(err, errBadRaftFrame) {
				t.Fatalf("%s cut to %d of %d bytes: error %v", tc.name, n, len(b), err)
			}
		}
		if _, err := decodeRequest(tc.kind, append(b, 0)); !errors.Is(err, errBadRaftFrame) {
			t.Fatalf("%s with a byte more: error %v", tc.name, err)
		}
	}
	for _, resp := range testResponses() {
		b, _ := appendResponse([]byte{respOK}, resp)
		for n := range len(b) {
			into := reflect.New(reflect.TypeOf(resp).Elem()).Interface()
			if err := decodeResponse(b[:n], into); !errors.Is(err, errBadRaftFrame) {
				t.Fatalf("%T cut to %d of %d bytes: error %v", resp, n, len(b), err)
			}
		}
	}
	tests := []struct {
		name string
		kind byte
		body []byte
	}{
		{"unknown kind", 99, nil},
		{"a billion entries", kindAppendEntries, []byte{0, 0, 0, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x03}},
		{"field longer than the frame", kindTimeoutNow, []byte{0, 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"bad boolean", kindRequestVote, []byte{0, 0, 0, 1, 0, 0, 0, 2}},
	}
	for _, tc := range tests {
		if _, err := decodeRequest(tc.kind, tc.body); !errors.Is(err, errBadRaftFrame) {
			t.Errorf("%s: error %v", tc.name, err)
		}
	}
}

// TestRaftReadFrameLimits: a frame's length is checked before its
// buffer is allocated.
func TestRaftReadFrameLimits(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
	}{
		{"too long", []byte{0x7f, 0xff, 0xff, 0xff, 1, 1}},
		{"too short", []byte{0, 0, 0, 1, 1}},
		{"bad request id", []byte{0, 0, 0, 2, 1, 0x80}},
	}
	for _, tc := range tests {
		_, _, _, err := readFrame(bufio.NewReader(bytes.NewReader(tc.in)))
		if !errors.Is(err, errBadRaftFrame) {
			t.Errorf("%s: error %v", tc.name, err)
		}
	}
}

// FuzzRaftDecodeRequest: no input makes the decoder panic, and what it
// accepts encodes back to a request that decodes the same.
func FuzzRaftDecodeRequest(f *testing.F) {
	for _, tc := range testRequests() {
		f.Add(tc.kind, appendRequest(nil, tc.req))
	}
	f.Fuzz(func(t *testing.T, kind byte, b []byte) {
		cmd, err := decodeRequest(kind, b)
		if err != nil {
			return
		}
		again, err := decodeRequest(kind, appendRequest(nil, cmd))
		if err != nil {
			t.Fatalf("re-encoded request does not decode: %v", err)
		}
		if !reflect.DeepEqual(normalize(again), normalize(cmd)) {
			t.Fatalf("re-encoded %+v, decoded %+v", cmd, again)
		}
	})
}

// normalize clears what the encoding does not keep exactly: the
// monotonic clock reading and location of entries' times.
func normalize(cmd any) any {
	if a, ok := cmd.(*raft.AppendEntriesRequest); ok {
		for _, e := range a.Entries {
			if !e.AppendedAt.IsZero() {
				e.AppendedAt = time.Unix(0, e.AppendedAt.UnixNano())
			}
		}
	}
	return cmd
}
