package main

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/google/pprof/profile"
)

// Node is one frame of the folded call tree: a function reached through one
// particular chain of callers.
type Node struct {
	// Name is the function name ("all" for the root).
	Name string
	// Value is the inclusive value of the chosen sample type: this frame
	// and everything it called.
	Value int64
	// Samples is the inclusive number of samples (the "samples" sample
	// type when the profile has one, otherwise Value).
	Samples int64
	// Self is the part of Value spent in this frame itself.
	Self int64
	// Children are the callees, sorted by Name.
	Children []*Node

	index map[string]*Node // children by name while folding
}

// Tree is a profile folded into a call tree.
type Tree struct {
	// Root is the synthetic "all" frame; its Value is the profile total.
	Root *Node
	// SampleType is the sample type the values are taken from.
	SampleType profile.ValueType
	// DurationNanos is the profile's duration (0 when unknown).
	DurationNanos int64
}

// sampleIndex picks the sample type to fold: the one named want, or, when
// want is empty, "cpu" if present and the first type otherwise.
func sampleIndex(p *profile.Profile, want string) (int, error) {
	if len(p.SampleType) == 0 {
		return 0, fmt.Errorf("profile has no sample types")
	}
	if want == "" {
		for i, st := range p.SampleType {
			if st.Type == "cpu" {
				return i, nil
			}
		}
		return 0, nil
	}
	names := make([]string, len(p.SampleType))
	for i, st := range p.SampleType {
		if st.Type == want {
			return i, nil
		}
		names[i] = st.Type
	}
	return 0, fmt.Errorf("sample type %q not in profile (has %s)", want, strings.Join(names, ", "))
}

// Fold folds the samples of p into a call tree by function name, using the
// sample type named sampleType (see sampleIndex for the empty default).
func Fold(p *profile.Profile, sampleType string) (*Tree, error) {
	vi, err := sampleIndex(p, sampleType)
	if err != nil {
		return nil, err
	}
	ci := -1
	for i, st := range p.SampleType {
		if st.Type == "samples" {
			ci = i
		}
	}
	root := &Node{Name: "all"}
	var stack []string
	for si, s := range p.Sample {
		if len(s.Value) != len(p.SampleType) {
			return nil, fmt.Errorf("sample %d has %d values, profile has %d sample types", si, len(s.Value), len(p.SampleType))
		}
		v := s.Value[vi]
		if v == 0 {
			continue
		}
		if v < 0 {
			return nil, fmt.Errorf("sample %d has negative value %d", si, v)
		}
		n := v
		if ci >= 0 {
			n = s.Value[ci]
		}
		stack = appendStack(stack[:0], s)
		cur := root
		cur.Value += v
		cur.Samples += n
		for _, name := range stack {
			cur = cur.child(name)
			cur.Value += v
			cur.Samples += n
		}
		cur.Self += v
	}
	root.finish()
	return &Tree{Root: root, SampleType: *p.SampleType[vi], DurationNanos: p.DurationNanos}, nil
}

// appendStack appends the function names of s from the root (outermost
// caller) to the leaf. pprof lists locations leaf first, and the lines of
// one location innermost (inlined callee) first, so both are walked
// backwards.
func appendStack(dst []string, s *profile.Sample) []string {
	for i := len(s.Location) - 1; i >= 0; i-- {
		loc := s.Location[i]
		if len(loc.Line) == 0 {
			dst = append(dst, fmt.Sprintf("0x%x", loc.Address))
			continue
		}
		for j := len(loc.Line) - 1; j >= 0; j-- {
			if f := loc.Line[j].Function; f != nil && f.Name != "" {
				dst = append(dst, f.Name)
			} else {
				dst = append(dst, fmt.Sprintf("0x%x", loc.Address))
			}
		}
	}
	return dst
}

func (n *Node) child(name string) *Node {
	if c, ok := n.index[name]; ok {
		return c
	}
	if n.index == nil {
		n.index = make(map[string]*Node)
	}
	c := &Node{Name: name}
	n.index[name] = c
	n.Children = append(n.Children, c)
	return c
}

// finish sorts the children of every node by name and drops the lookup maps.
func (n *Node) finish() {
	n.index = nil
	slices.SortFunc(n.Children, func(a, b *Node) int { return strings.Compare(a.Name, b.Name) })
	for _, c := range n.Children {
		c.finish()
	}
}

// WriteFolded writes one "caller;...;callee self" line per stack with a
// non-zero self value, in name order, leaving out the "all" root.
func (t *Tree) WriteFolded(w io.Writer) error {
	bw := bufio.NewWriter(w)
	var walk func(n *Node, prefix []byte)
	walk = func(n *Node, prefix []byte) {
		for _, c := range n.Children {
			p := prefix
			if len(p) > 0 {
				p = append(p, ';')
			}
			p = append(p, c.Name...)
			if c.Self > 0 {
				fmt.Fprintf(bw, "%s %d\n", p, c.Self)
			}
			walk(c, p)
		}
	}
	walk(t.Root, nil)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write folded stacks: %w", err)
	}
	return nil
}

// packageOf returns the package path of a Go function name
// ("github.com/a/b.(*T).M" -> "github.com/a/b", "runtime.mallocgc" ->
// "runtime"); names without a package come back whole.
func packageOf(fn string) string {
	start := strings.LastIndexByte(fn, '/') + 1
	if i := strings.IndexByte(fn[start:], '.'); i > 0 {
		return fn[:start+i]
	}
	return fn
}
