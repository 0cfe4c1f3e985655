package protocol

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestWriteFuzzSeeds regenerates the committed seed corpora under
// testdata/fuzz from real encodings. It only runs when
// WARREN_WRITE_FUZZ_SEEDS=1, since tests must not write into the tree.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("WARREN_WRITE_FUZZ_SEEDS") != "1" {
		t.Skip("set WARREN_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz seeds")
	}
	write := func(target, name string, args ...any) {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		content := "go test fuzz v1\n"
		for _, a := range args {
			switch a := a.(type) {
			case []byte:
				content += "[]byte(" + strconv.Quote(string(a)) + ")\n"
			case uint32:
				content += fmt.Sprintf("uint32(%d)\n", a)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "seed-"+name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var stream []byte
	for _, m := range sampleMethods(1) {
		frame := AppendMethodFrame(nil, 1, m)
		stream = append(stream, frame...)
		write("FuzzDecodeMethod", m.Name(), frame[7:len(frame)-1])
	}
	p := allProperties()
	header := AppendHeaderFrame(nil, 1, ClassBasic, 5, &p)
	body := AppendBodyFrames(nil, 1, []byte("hello"), 4096)
	stream = append(append(append(stream, header...), body...), AppendHeartbeat(nil)...)
	write("FuzzReadFrame", "stream", stream, uint32(131072))
	write("FuzzReadFrame", "header", header, uint32(0))
	write("FuzzReadFrame", "oversize", []byte{1, 0, 1, 0, 1, 0, 0, 0}, uint32(4096))
	write("FuzzDecodeTable", "every-tag", AppendTable(nil, everyTag()))
	write("FuzzDecodeTable", "queue-args", AppendTable(nil, Table{"x-queue-type": "quorum", "x-max-length": int64(10), "x-dead-letter-exchange": "dlx"}))
	write("FuzzDecodeProperties", "all", p.Append(nil))
	write("FuzzDecodeProperties", "persistent-ttl", (&Properties{Flags: FlagDeliveryMode | FlagExpiration | FlagUserID, DeliveryMode: 2, Expiration: "100", UserID: "guest"}).Append(nil))
}
