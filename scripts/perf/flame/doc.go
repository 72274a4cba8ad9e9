// Command flame renders a pprof profile as a standalone flame graph SVG
// (Brendan Gregg's layout: the root at the bottom, one rectangle per frame,
// width proportional to samples, callees stacked above their callers, each
// level sorted by function name so that equal stacks merge).
//
// It lives in its own module so that svc-dht never depends on
// github.com/google/pprof. Usage:
//
//	go run . [-o flame.svg] [-sample cpu] [-title TEXT] [-folded stacks.txt] cpu.pb.gz
//
// Stacks are folded by function name, inlined frames included in call order.
// Frames narrower than 0.1% of the total are left out. Frames of svc-dht's
// own packages (github.com/svc-dht/...) are drawn in blue, all others in warm
// hues chosen by a hash of their package name. Each frame carries a <title>
// tooltip with the function, its samples and its share of the total. The SVG
// needs no JavaScript. -folded also writes the folded stacks in the
// "a;b;c count" text form that other flame graph tools read. A short summary
// (top-level frames and self time by package) goes to standard error.
package main
