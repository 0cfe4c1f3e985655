package perf

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
)

func TestWriteSVGIsWellFormedWithEscapedText(t *testing.T) {
	for name, c := range map[string]Chart{
		"two lines": {Title: "a <b> & c", XLabel: "s", YLabel: "msg/s", Series: []Series{
			{Label: "ours", Color: "red", X: []float64{1, 2, 3}, Y: []float64{10, 2000, 1500}},
			{Label: "theirs", Color: "blue", X: []float64{1, 2}, Y: []float64{5, 7}},
		}},
		"unsupported only": {Title: "q", Series: []Series{{Label: "ours: unsupported", Color: "red"}}},
		"empty":            {Title: "nothing"},
	} {
		var b bytes.Buffer
		if err := WriteSVG(&b, c); err != nil {
			t.Fatal(err)
		}
		if err := xml.Unmarshal(b.Bytes(), new(struct{})); err != nil {
			t.Errorf("%s: not well-formed: %v", name, err)
		}
		lines := strings.Count(b.String(), "<polyline")
		want := 0
		for _, s := range c.Series {
			if len(s.X) > 0 {
				want++
			}
		}
		if lines != want {
			t.Errorf("%s: %d polylines, want %d", name, lines, want)
		}
		if want == 0 && !strings.Contains(b.String(), "no data") {
			t.Errorf("%s: an empty chart does not say so", name)
		}
	}
}

func TestNiceCeil(t *testing.T) {
	for in, want := range map[float64]float64{0: 1, 0.3: 0.5, 1: 1, 1.1: 2, 3: 5, 7: 10, 45000: 50000, 120000: 200000} {
		if got := niceCeil(in); got != want {
			t.Errorf("niceCeil(%v) = %v, want %v", in, got, want)
		}
	}
}
