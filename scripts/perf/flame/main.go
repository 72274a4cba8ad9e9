package main

import (
	"cmp"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/google/pprof/profile"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "flame:", err)
		os.Exit(1)
	}
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("flame", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "flame.svg", "output SVG file")
	sample := fs.String("sample", "", `sample type to draw (default "cpu" when present, else the first)`)
	title := fs.String("title", "", "first header line (default: the profile file name)")
	folded := fs.String("folded", "", `also write folded stacks ("a;b;c count" lines) to this file`)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: flame [-o out.svg] [-sample TYPE] [-title TEXT] [-folded FILE] profile.pb.gz")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("want exactly one profile file, got %d arguments", fs.NArg())
	}
	in := fs.Arg(0)
	f, err := os.Open(in)
	if err != nil {
		return fmt.Errorf("open profile: %w", err)
	}
	p, err := profile.Parse(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("parse profile %s: %w", in, err)
	}
	t, err := Fold(p, *sample)
	if err != nil {
		return fmt.Errorf("fold %s: %w", in, err)
	}
	if *title == "" {
		*title = "flame graph of " + in
	}
	if err := writeFile(*out, func(w io.Writer) error { return WriteSVG(w, t, Options{Title: *title}) }); err != nil {
		return err
	}
	if *folded != "" {
		if err := writeFile(*folded, t.WriteFolded); err != nil {
			return err
		}
	}
	summarize(stderr, t)
	return nil
}

func writeFile(name string, write func(io.Writer) error) error {
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("create output: %w", err)
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", name, err)
	}
	return nil
}

// summarize prints the share of the top-level frames and the packages with
// the most self time.
func summarize(w io.Writer, t *Tree) {
	total := float64(t.Root.Value)
	fmt.Fprintf(w, "%d samples; top-level frames:\n", t.Root.Samples)
	top := slices.Clone(t.Root.Children)
	slices.SortStableFunc(top, func(a, b *Node) int { return cmp.Compare(b.Value, a.Value) })
	for _, n := range top[:min(len(top), 8)] {
		fmt.Fprintf(w, "  %6.2f%%  %s\n", 100*float64(n.Value)/total, n.Name)
	}
	self := map[string]int64{}
	var walk func(n *Node)
	walk = func(n *Node) {
		for _, c := range n.Children {
			self[packageOf(c.Name)] += c.Self
			walk(c)
		}
	}
	walk(t.Root)
	fmt.Fprintf(w, "samples with a %s... frame on the stack: %.2f%%\n", ownPrefix, 100*float64(ownValue(t.Root))/total)
	pkgs := make([]string, 0, len(self))
	for p := range self {
		pkgs = append(pkgs, p)
	}
	slices.SortFunc(pkgs, func(a, b string) int {
		return cmp.Or(cmp.Compare(self[b], self[a]), cmp.Compare(a, b))
	})
	fmt.Fprintln(w, "self time by package:")
	for _, p := range pkgs[:min(len(pkgs), 10)] {
		fmt.Fprintf(w, "  %6.2f%%  %s\n", 100*float64(self[p])/total, p)
	}
}

// ownValue sums the values of the outermost svc-dht frames below n: the
// samples that passed through svc-dht's own code.
func ownValue(n *Node) int64 {
	var v int64
	for _, c := range n.Children {
		if strings.HasPrefix(packageOf(c.Name), ownPrefix) {
			v += c.Value
		} else {
			v += ownValue(c)
		}
	}
	return v
}
