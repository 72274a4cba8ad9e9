package main

import (
	"cmp"
	"slices"
)

// spread is the p50, p95 and maximum of a sample.
type spread[T cmp.Ordered] struct{ p50, p95, max T }

// percentiles returns the nearest-rank p50 and p95 and the maximum of xs
// (sorted in place); the zero spread for an empty sample.
func percentiles[T cmp.Ordered](xs []T) spread[T] {
	if len(xs) == 0 {
		return spread[T]{}
	}
	slices.Sort(xs)
	return spread[T]{p50: rank(xs, 50), p95: rank(xs, 95), max: xs[len(xs)-1]}
}

// rank is the nearest-rank p-th percentile of the sorted xs: the smallest
// value with at least p% of the sample at or below it.
func rank[T cmp.Ordered](sorted []T, p int) T {
	i := (p*len(sorted) + 99) / 100 // ceil(p/100 * n)
	return sorted[max(i, 1)-1]
}
