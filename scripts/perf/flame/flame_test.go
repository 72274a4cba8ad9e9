package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
)

const oddName = `pkg.F[T <&>]"'`

// testProfile builds a small CPU profile: main calls a and b, b has c
// inlined, and a calls a function whose name needs XML escaping.
func testProfile() *profile.Profile {
	fn := func(id uint64, name string) *profile.Function { return &profile.Function{ID: id, Name: name} }
	fMain, fA, fB, fC, fOdd := fn(1, "main.main"), fn(2, "main.a"), fn(3, "github.com/svc-dht/svc-dht/node.b"), fn(4, "main.c"), fn(5, oddName)
	lMain := &profile.Location{ID: 1, Address: 0x10, Line: []profile.Line{{Function: fMain}}}
	lA := &profile.Location{ID: 2, Address: 0x20, Line: []profile.Line{{Function: fA}}}
	// c is inlined into b: the innermost line comes first.
	lBC := &profile.Location{ID: 3, Address: 0x30, Line: []profile.Line{{Function: fC}, {Function: fB}}}
	lOdd := &profile.Location{ID: 4, Address: 0x40, Line: []profile.Line{{Function: fOdd}}}
	lRaw := &profile.Location{ID: 5, Address: 0xbeef}
	s := func(n, ns int64, locs ...*profile.Location) *profile.Sample {
		return &profile.Sample{Location: locs, Value: []int64{n, ns}}
	}
	return &profile.Profile{
		SampleType:    []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType:    &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:        10,
		DurationNanos: 2e9,
		Sample: []*profile.Sample{
			s(1, 10, lA, lMain),
			s(2, 20, lBC, lMain),
			s(3, 30, lA, lMain),
			s(1, 10, lMain),
			s(1, 5, lOdd, lA, lMain),
			s(1, 7, lRaw, lMain),
			s(0, 0, lA), // empty samples are ignored
		},
		Location: []*profile.Location{lMain, lA, lBC, lOdd, lRaw},
		Function: []*profile.Function{fMain, fA, fB, fC, fOdd},
	}
}

func folded(t *testing.T, tr *Tree) map[string]int64 {
	t.Helper()
	var b bytes.Buffer
	if err := tr.WriteFolded(&b); err != nil {
		t.Fatal(err)
	}
	m := map[string]int64{}
	for line := range strings.Lines(b.String()) {
		line = strings.TrimSuffix(line, "\n")
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseInt(line[i+1:], 10, 64)
		if i < 0 || err != nil {
			t.Fatalf("bad folded line %q", line)
		}
		if _, dup := m[line[:i]]; dup {
			t.Fatalf("stack %q folded twice", line[:i])
		}
		m[line[:i]] = v
	}
	return m
}

// checkSums verifies that every frame's value is its self value plus its
// children's values, and that children are sorted by name.
func checkSums(t *testing.T, n *Node, path string) {
	t.Helper()
	sum := n.Self
	for i, c := range n.Children {
		if i > 0 && n.Children[i-1].Name >= c.Name {
			t.Errorf("%s: children not sorted: %q before %q", path, n.Children[i-1].Name, c.Name)
		}
		sum += c.Value
		checkSums(t, c, path+";"+c.Name)
	}
	if sum != n.Value {
		t.Errorf("%s: value %d, self+children %d", path, n.Value, sum)
	}
}

func TestFold(t *testing.T) {
	tr, err := Fold(testProfile(), "")
	if err != nil {
		t.Fatal(err)
	}
	if tr.SampleType.Type != "cpu" {
		t.Errorf("default sample type %q, want cpu", tr.SampleType.Type)
	}
	want := map[string]int64{
		"main.main":                   10,
		"main.main;main.a":            40,
		"main.main;main.a;" + oddName: 5,
		"main.main;github.com/svc-dht/svc-dht/node.b;main.c": 20,
		"main.main;0xbeef": 7,
	}
	got := folded(t, tr)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("folded stacks:\n got %v\nwant %v", got, want)
	}
	if tr.Root.Value != 82 || tr.Root.Samples != 9 {
		t.Errorf("root value %d samples %d, want 82 and 9", tr.Root.Value, tr.Root.Samples)
	}
	checkSums(t, tr.Root, "all")

	tr, err = Fold(testProfile(), "samples")
	if err != nil {
		t.Fatal(err)
	}
	if got := folded(t, tr)["main.main;main.a"]; got != 4 {
		t.Errorf("main.main;main.a by samples = %d, want 4", got)
	}
	if _, err := Fold(testProfile(), "alloc_space"); err == nil || !strings.Contains(err.Error(), "cpu") {
		t.Errorf("unknown sample type: err %v, want one listing the types", err)
	}
	bad := testProfile()
	bad.Sample[0].Value = []int64{1}
	if _, err := Fold(bad, ""); err == nil {
		t.Error("sample with too few values: no error")
	}
}

// TestFoldRandom folds random profiles and checks that the folded stacks
// add up to the total and every frame to its self plus children.
func TestFoldRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for iter := range 50 {
		p := &profile.Profile{SampleType: []*profile.ValueType{{Type: "cpu", Unit: "nanoseconds"}}}
		for i := range 6 {
			f := &profile.Function{ID: uint64(i + 1), Name: fmt.Sprintf("p%d.f%d", i%3, i)}
			p.Function = append(p.Function, f)
			loc := &profile.Location{ID: uint64(i + 1), Line: []profile.Line{{Function: f}}}
			if i%2 == 1 { // an inlined pair
				loc.Line = append(loc.Line, profile.Line{Function: p.Function[i-1]})
			}
			p.Location = append(p.Location, loc)
		}
		var total int64
		stacks := map[string]int64{}
		for range 1 + rng.IntN(40) {
			var locs []*profile.Location
			for range 1 + rng.IntN(5) {
				locs = append(locs, p.Location[rng.IntN(len(p.Location))])
			}
			v := int64(1 + rng.IntN(1000))
			total += v
			p.Sample = append(p.Sample, &profile.Sample{Location: locs, Value: []int64{v}})
			stacks[strings.Join(appendStack(nil, p.Sample[len(p.Sample)-1]), ";")] += v
		}
		tr, err := Fold(p, "")
		if err != nil {
			t.Fatal(err)
		}
		if tr.Root.Value != total {
			t.Fatalf("iter %d: root %d, total %d", iter, tr.Root.Value, total)
		}
		checkSums(t, tr.Root, "all")
		if got := folded(t, tr); fmt.Sprint(got) != fmt.Sprint(stacks) {
			t.Fatalf("iter %d: folded\n got %v\nwant %v", iter, got, stacks)
		}
	}
}

type frame struct {
	title   string
	x, y, w float64
	label   string
}

// parseSVG decodes the SVG with encoding/xml and returns its frames.
func parseSVG(t *testing.T, data []byte) []frame {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(data))
	var frames []frame
	var cur *frame
	var stack []string
	var text strings.Builder
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			stack = append(stack, e.Name.Local)
			text.Reset()
			switch e.Name.Local {
			case "g":
				frames = append(frames, frame{})
				cur = &frames[len(frames)-1]
			case "rect":
				if cur == nil {
					continue
				}
				for _, a := range e.Attr {
					v, _ := strconv.ParseFloat(a.Value, 64)
					switch a.Name.Local {
					case "x":
						cur.x = v
					case "y":
						cur.y = v
					case "width":
						cur.w = v
					}
				}
			}
		case xml.CharData:
			text.Write(e)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
			if cur != nil {
				switch e.Name.Local {
				case "title":
					cur.title = text.String()
				case "text":
					cur.label = text.String()
				case "g":
					cur = nil
				}
			}
		}
	}
	if len(stack) != 0 {
		t.Fatalf("unclosed elements %v", stack)
	}
	return frames
}

func TestSVG(t *testing.T) {
	tr, err := Fold(testProfile(), "")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteSVG(&b, tr, Options{Title: "test <&> title"}); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b.Bytes(), []byte("<&>")) {
		t.Error("raw <&> in the SVG: names are not escaped")
	}
	frames := parseSVG(t, b.Bytes())
	byName := map[string]frame{}
	for _, f := range frames {
		name, _, ok := strings.Cut(f.title, " (")
		if !ok {
			t.Fatalf("title %q has no (samples, share)", f.title)
		}
		byName[name] = f
	}
	// Every frame of the tree is at least 0.1% here, so all are drawn.
	if len(frames) != 7 {
		t.Errorf("%d frames, want 7: %v", len(frames), frames)
	}
	root, ok := byName["all"]
	if !ok || math.Abs(root.w-(svgWidth-2*sidePad)) > 0.1 {
		t.Fatalf("root frame %+v, want width %v", root, svgWidth-2*sidePad)
	}
	odd, ok := byName[oddName]
	if !ok {
		t.Fatalf("no frame titled %q (escaping lost it): %v", oddName, byName)
	}
	if want := fmt.Sprintf("%s (1 samples, 5ns, %.2f%%)", oddName, 100*5/82.0); odd.title != want {
		t.Errorf("title %q, want %q", odd.title, want)
	}
	// Widths are proportional to values and callees sit above callers.
	for _, c := range []struct {
		name, parent string
		value        int64
	}{
		{"main.main", "all", 82},
		{"main.a", "main.main", 45},
		{"github.com/svc-dht/svc-dht/node.b", "main.main", 20},
		{"main.c", "github.com/svc-dht/svc-dht/node.b", 20},
		{oddName, "main.a", 5},
	} {
		f, p := byName[c.name], byName[c.parent]
		if want := root.w * float64(c.value) / 82; math.Abs(f.w-want) > 0.1 {
			t.Errorf("%s: width %.1f, want %.1f", c.name, f.w, want)
		}
		if f.y != p.y-frameH || f.x < p.x-0.05 || f.x+f.w > p.x+p.w+0.1 {
			t.Errorf("%s %+v not stacked within %s %+v", c.name, f, c.parent, p)
		}
	}
	// Siblings are in name order, left to right: 0xbeef, github.com/..., main.a.
	if !(byName["0xbeef"].x < byName["github.com/svc-dht/svc-dht/node.b"].x &&
		byName["github.com/svc-dht/svc-dht/node.b"].x < byName["main.a"].x) {
		t.Error("siblings are not in name order")
	}
	if colour("github.com/svc-dht/svc-dht/node.b", false)[1:3] >= "c0" {
		t.Error("own package colour is not blue-ish")
	}
	if c := colour("runtime.mallocgc", false); c[1:3] < "e0" {
		t.Errorf("runtime colour %s is not warm", c)
	}
}

func TestSVGOmitsNarrowFrames(t *testing.T) {
	p := testProfile()
	p.Sample[0].Value = []int64{1, 1e6} // main.a now dwarfs the 5 ns frame
	tr, err := Fold(p, "")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteSVG(&b, tr, Options{}); err != nil {
		t.Fatal(err)
	}
	for _, f := range parseSVG(t, b.Bytes()) {
		if strings.HasPrefix(f.title, oddName) || strings.HasPrefix(f.title, "0xbeef") {
			t.Errorf("frame under 0.1%% drawn: %q", f.title)
		}
	}
	empty := &Tree{Root: &Node{Name: "all"}, SampleType: profile.ValueType{Type: "cpu"}}
	if err := WriteSVG(io.Discard, empty, Options{}); err == nil {
		t.Error("empty profile: no error")
	}
}

func TestFit(t *testing.T) {
	for _, c := range []struct {
		name string
		w    float64
		want string
	}{
		{"runtime.mallocgc", 1000, "runtime.mallocgc"},
		{"runtime.mallocgc", 6 + 9*charW, "runtime.."},
		{"runtime.mallocgc", 6 + 2*charW, ""},
		{"pkg.ÄÖÜßé", 6 + 7*charW, "pkg.Ä.."},
	} {
		if got := fit(c.name, c.w); got != c.want {
			t.Errorf("fit(%q, %v) = %q, want %q", c.name, c.w, got, c.want)
		}
	}
}

func TestPackageOf(t *testing.T) {
	for fn, want := range map[string]string{
		"runtime.mallocgc":                            "runtime",
		"crypto/tls.(*Conn).Read":                     "crypto/tls",
		"github.com/quic-go/quic-go.(*Conn).run":      "github.com/quic-go/quic-go",
		"github.com/svc-dht/svc-dht/wire.Decode[...]": "github.com/svc-dht/svc-dht/wire",
		"0xbeef": "0xbeef",
	} {
		if got := packageOf(fn); got != want {
			t.Errorf("packageOf(%q) = %q, want %q", fn, got, want)
		}
	}
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "cpu.pb.gz")
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := testProfile().Write(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out, fold := filepath.Join(dir, "flame.svg"), filepath.Join(dir, "stacks.txt")
	var stderr bytes.Buffer
	if err := run([]string{"-o", out, "-folded", fold, in}, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	svg, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(parseSVG(t, svg)); n != 7 {
		t.Errorf("%d frames in %s, want 7", n, out)
	}
	stacks, err := os.ReadFile(fold)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(stacks), "main.main;main.a 40\n") {
		t.Errorf("folded stacks lack main.main;main.a 40:\n%s", stacks)
	}
	if !strings.Contains(stderr.String(), "100.00%  main.main") {
		t.Errorf("summary lacks main.main at 100%%:\n%s", stderr.String())
	}
	if err := run([]string{"-o", out}, io.Discard); err == nil {
		t.Error("no profile argument: no error")
	}
	if err := run([]string{"-o", out, filepath.Join(dir, "missing")}, io.Discard); err == nil {
		t.Error("missing profile: no error")
	}
}
