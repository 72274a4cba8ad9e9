package main

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"hash/fnv"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// ownPrefix marks svc-dht's own packages, drawn in a distinct hue.
const ownPrefix = "github.com/svc-dht/"

// Layout constants of the SVG, in pixels.
const (
	svgWidth    = 1200.0
	sidePad     = 10.0
	headerH     = 46.0
	frameH      = 16.0
	bottomPad   = 10.0
	fontSize    = 12.0
	charW       = 7.0   // approximate advance of a monospace 12 px glyph
	minFraction = 0.001 // frames narrower than this share of the total are omitted
)

// Options controls the rendering.
type Options struct {
	// Title is the first header line.
	Title string
}

// WriteSVG renders t as a standalone flame graph SVG.
func WriteSVG(w io.Writer, t *Tree, opt Options) error {
	total := t.Root.Value
	if total <= 0 {
		return fmt.Errorf("profile has no samples of type %q", t.SampleType.Type)
	}
	minValue := int64(float64(total) * minFraction)
	depth := maxDepth(t.Root, minValue)
	height := headerH + float64(depth+1)*frameH + bottomPad

	bw := bufio.NewWriter(w)
	r := renderer{w: bw, total: total, minValue: minValue, unit: t.SampleType.Unit,
		scale: (svgWidth - 2*sidePad) / float64(total), bottom: headerH + float64(depth)*frameH}
	fmt.Fprintf(bw, `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="monospace" font-size="%.0f">
<rect x="0" y="0" width="100%%" height="100%%" fill="#fdfaf4"/>
`, svgWidth, height, svgWidth, height, fontSize)
	title := opt.Title
	if title == "" {
		title = "flame graph"
	}
	r.text(sidePad, 18, title, `font-size="15"`)
	r.text(sidePad, 36, r.header(t), "")
	r.node(t.Root, sidePad, 0)
	bw.WriteString("</svg>\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write svg: %w", err)
	}
	return nil
}

type renderer struct {
	w        *bufio.Writer
	total    int64
	minValue int64
	unit     string
	scale    float64 // pixels per unit of value
	bottom   float64 // y of the root frame
}

// header is the second header line: duration, samples, total value, legend.
func (r *renderer) header(t *Tree) string {
	var b strings.Builder
	if t.DurationNanos > 0 {
		fmt.Fprintf(&b, "duration %s, ", time.Duration(t.DurationNanos).Round(time.Millisecond))
	}
	fmt.Fprintf(&b, "%d samples", t.Root.Samples)
	if t.SampleType.Type != "samples" {
		fmt.Fprintf(&b, ", %s %s", t.SampleType.Type, formatValue(t.Root.Value, r.unit))
	}
	b.WriteString("; blue = " + ownPrefix + "..., frames < 0.1% omitted")
	return b.String()
}

// node draws n at x (pixels) and depth d, then its children above it.
func (r *renderer) node(n *Node, x float64, d int) {
	w := float64(n.Value) * r.scale
	y := r.bottom - float64(d)*frameH
	r.w.WriteString("<g><title>")
	r.escape(n.Name)
	pct := 100 * float64(n.Value) / float64(r.total)
	if r.unit == "count" || r.unit == "" {
		fmt.Fprintf(r.w, " (%d samples, %.2f%%)", n.Samples, pct)
	} else {
		fmt.Fprintf(r.w, " (%d samples, %s, %.2f%%)", n.Samples, formatValue(n.Value, r.unit), pct)
	}
	fmt.Fprintf(r.w, "</title><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"2\" fill=\"%s\"/>",
		x, y, w, frameH-1, colour(n.Name, d == 0))
	if label := fit(n.Name, w); label != "" {
		fmt.Fprintf(r.w, "<text x=\"%.1f\" y=\"%.1f\">", x+3, y+frameH-4)
		r.escape(label)
		r.w.WriteString("</text>")
	}
	r.w.WriteString("</g>\n")
	cx := x
	for _, c := range n.Children {
		if c.Value >= r.minValue && c.Value > 0 {
			r.node(c, cx, d+1)
		}
		cx += float64(c.Value) * r.scale
	}
}

func (r *renderer) text(x, y float64, s, attrs string) {
	if attrs != "" {
		attrs = " " + attrs
	}
	fmt.Fprintf(r.w, "<text x=\"%.1f\" y=\"%.1f\"%s>", x, y, attrs)
	r.escape(s)
	r.w.WriteString("</text>\n")
}

// escape writes s as XML character data, also valid inside attributes.
func (r *renderer) escape(s string) {
	// xml.EscapeText only fails when the writer does; bufio keeps that
	// error for the final Flush.
	_ = xml.EscapeText(r.w, []byte(s))
}

// maxDepth is the depth of the deepest frame that will be drawn.
func maxDepth(n *Node, minValue int64) int {
	d := 0
	for _, c := range n.Children {
		if c.Value >= minValue && c.Value > 0 {
			d = max(d, 1+maxDepth(c, minValue))
		}
	}
	return d
}

// fit returns name shortened with ".." to fit a frame w pixels wide, or ""
// when not even three characters fit.
func fit(name string, w float64) string {
	room := int((w - 6) / charW)
	if room < 3 {
		return ""
	}
	if utf8.RuneCountInString(name) <= room {
		return name
	}
	i, n := 0, 0
	for i = range name {
		if n == room-2 {
			break
		}
		n++
	}
	return name[:i] + ".."
}

// colour picks a fill: grey for the root, blue shades for svc-dht's own
// packages, warm (red to yellow) shades by a hash of the package otherwise.
func colour(fn string, root bool) string {
	if root {
		return "#c8c8c8"
	}
	pkg := packageOf(fn)
	h := fnv.New32a()
	h.Write([]byte(pkg))
	v := h.Sum32()
	a, b := int(v&0xff), int(v>>8&0xff)
	if strings.HasPrefix(pkg, ownPrefix) {
		return fmt.Sprintf("#%02x%02x%02x", 70+a%50, 140+b%50, 225+int(v>>16&0xff)%30)
	}
	return fmt.Sprintf("#%02x%02x%02x", 225+a%30, 90+b%140, 40+int(v>>16&0xff)%45)
}

// formatValue renders v in unit, switching nanoseconds and bytes to
// readable magnitudes.
func formatValue(v int64, unit string) string {
	switch unit {
	case "nanoseconds":
		switch {
		case v >= 1e9:
			return fmt.Sprintf("%.2fs", float64(v)/1e9)
		case v >= 1e6:
			return fmt.Sprintf("%.2fms", float64(v)/1e6)
		case v >= 1e3:
			return fmt.Sprintf("%.2fµs", float64(v)/1e3)
		}
		return fmt.Sprintf("%dns", v)
	case "bytes":
		switch {
		case v >= 1<<30:
			return fmt.Sprintf("%.2f GiB", float64(v)/(1<<30))
		case v >= 1<<20:
			return fmt.Sprintf("%.2f MiB", float64(v)/(1<<20))
		case v >= 1<<10:
			return fmt.Sprintf("%.2f KiB", float64(v)/(1<<10))
		}
		return fmt.Sprintf("%d B", v)
	}
	return fmt.Sprintf("%d %s", v, unit)
}
