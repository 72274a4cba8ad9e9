package kbucket

import "math"

// fixShift is the fixed-point scale of the entropy sums: c·log2(c) is stored
// as round(c·log2(c)·2^fixShift). With c ≤ MaxK the largest term is below
// 2^8, and a bucket sum below 2^13, far inside int64.
const fixShift = 40

// xlogxFix[c] = round(c·log2(c)·2^fixShift) for 0 ≤ c ≤ MaxK+1: a table
// computed once. Keeping the running sums in integers makes the incremental
// entropy exactly reproducible: no rounding drift however many updates.
var xlogxFix = func() (t [MaxK + 2]int64) {
	for c := 2; c < len(t); c++ {
		t[c] = int64(math.Round(float64(c) * math.Log2(float64(c)) * (1 << fixShift)))
	}
	return t
}()

// entropyFromSum returns H = log2(n) - S/n for n entries whose group counts
// give the fixed-point sum S; 0 for n ≤ 1.
func entropyFromSum(n int, sumFix int64) float64 {
	if n <= 1 {
		return 0
	}
	h := math.Log2(float64(n)) - float64(sumFix)/(1<<fixShift)/float64(n)
	return max(h, 0) // a single group may round to -1e-16
}

// Entropy computes, from scratch, the Shannon entropy in bits of a mix of
// groups with the given entry counts: H = -Σ p·log2(p), p = c/n. It is the
// reference the incremental per-bucket value is checked against; zero counts
// are ignored. (Exempt peers are singleton groups: pass a 1 for each.)
func Entropy(counts []int) float64 {
	n := 0
	for _, c := range counts {
		n += c
	}
	if n <= 1 {
		return 0
	}
	var h float64
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / float64(n)
			h -= p * math.Log2(p)
		}
	}
	return h
}
