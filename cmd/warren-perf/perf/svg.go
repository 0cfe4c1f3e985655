package perf

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
)

// Chart is a line chart: one or more series over a shared x axis.
type Chart struct {
	// Title is drawn above the plot.
	Title string
	// XLabel names the x axis.
	XLabel string
	// YLabel names the y axis.
	YLabel string
	// Series are the lines, drawn in order.
	Series []Series
}

// Series is one line of a chart.
type Series struct {
	// Label names it in the legend.
	Label string
	// Color is its stroke colour (any SVG colour).
	Color string
	// X holds the x values; Y the y values, one for each.
	X, Y []float64
}

// Chart geometry, in SVG user units.
const (
	svgW, svgH                         = 780, 360
	padLeft, padRight, padTop, padBott = 80, 20, 40, 50
)

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*e {
			return m * e
		}
	}
	return 10 * e
}

// fmtTick formats an axis label compactly (12k, 1.5M).
func fmtTick(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", v/1e6), ".0") + "M"
	case a >= 1e3:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", v/1e3), ".0") + "k"
	case a >= 10 || a == 0:
		return fmt.Sprintf("%.0f", v)
	default:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", v), ".0")
	}
}

// WriteSVG draws the chart as a standalone SVG document with axes, grid
// lines, a legend and one polyline per series.
func WriteSVG(w io.Writer, c Chart) error {
	var xMax, yMax float64
	points := 0
	for _, s := range c.Series {
		points += len(s.X)
		for i := range s.X {
			xMax = math.Max(xMax, s.X[i])
			yMax = math.Max(yMax, s.Y[i])
		}
	}
	xMax, yMax = math.Max(xMax, 1), niceCeil(yMax*1.05)
	pw, ph := float64(svgW-padLeft-padRight), float64(svgH-padTop-padBott)
	px := func(x float64) float64 { return padLeft + x/xMax*pw }
	py := func(y float64) float64 { return padTop + ph - y/yMax*ph }

	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`, svgW, svgH, svgW, svgH)
	p(`<rect width="100%%" height="100%%" fill="white"/>`)
	p(`<text x="%d" y="22" font-size="13" font-weight="bold">%s</text>`, padLeft-60, html.EscapeString(c.Title))
	const ticks = 5
	for i := 0; i <= ticks; i++ {
		y := yMax * float64(i) / ticks
		p(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e9ecef"/>`, padLeft, py(y), svgW-padRight, py(y))
		p(`<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`, padLeft-6, py(y), fmtTick(y))
	}
	xStep := niceCeil(xMax / 10)
	for x := 0.0; x <= xMax+1e-9; x += xStep {
		p(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#adb5bd"/>`, px(x), padTop+int(ph), px(x), padTop+int(ph)+4)
		p(`<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, px(x), padTop+int(ph)+18, fmtTick(x))
	}
	p(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#495057"/>`, padLeft, padTop+int(ph), svgW-padRight, padTop+int(ph))
	p(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#495057"/>`, padLeft, padTop, padLeft, padTop+int(ph))
	p(`<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, padLeft+pw/2, svgH-10, html.EscapeString(c.XLabel))
	p(`<text x="16" y="%.1f" text-anchor="middle" transform="rotate(-90 16 %.1f)">%s</text>`, padTop+ph/2, padTop+ph/2, html.EscapeString(c.YLabel))
	for i, s := range c.Series {
		var pts []string
		for j := range s.X {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(s.X[j]), py(s.Y[j])))
		}
		if len(pts) > 0 {
			p(`<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, s.Color, strings.Join(pts, " "))
		}
		lx, ly := svgW-padRight-200, padTop+12+i*18
		p(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>`, lx, ly, lx+20, ly, s.Color)
		p(`<text x="%d" y="%d" dominant-baseline="middle">%s</text>`, lx+26, ly, html.EscapeString(s.Label))
	}
	if points == 0 {
		p(`<text x="%.1f" y="%.1f" text-anchor="middle" fill="#868e96">no data</text>`, padLeft+pw/2, padTop+ph/2)
	}
	p(`</svg>`)
	_, err := io.WriteString(w, b.String())
	return err
}
