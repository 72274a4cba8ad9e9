package loadgen

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestPlanDeterministic(t *testing.T) {
	o1, t1 := Plan(50, 200, 7)
	o2, t2 := Plan(50, 200, 7)
	o3, _ := Plan(50, 200, 8)
	if !slices.Equal(o1, o2) || !slices.Equal(t1, t2) {
		t.Fatal("same seed, different plan")
	}
	if slices.Equal(o1, o3) {
		t.Fatal("different seeds, same origins")
	}
	seen := map[int]bool{}
	for _, o := range o1 {
		if o < 0 || o >= 50 {
			t.Fatalf("origin %d out of range", o)
		}
		seen[o] = true
	}
	if len(seen) < 30 {
		t.Fatalf("only %d distinct origins of 50 in 200 draws", len(seen))
	}
}

func TestRunLookups(t *testing.T) {
	var mu sync.Mutex
	calls := map[int]int{}
	fail := errors.New("unreachable")
	rep, err := RunLookups(context.Background(), 10, 300, 4, 1, time.Second,
		func(ctx context.Context, origin int, _ [32]byte) (int, bool, error) {
			if _, ok := ctx.Deadline(); !ok {
				return 0, false, errors.New("no deadline")
			}
			mu.Lock()
			calls[origin]++
			mu.Unlock()
			if origin == 3 {
				return 0, true, fail
			}
			return origin + 1, origin%2 == 0, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	origins, _ := Plan(10, 300, 1)
	var wantRPCs int64
	wantErr, wantExact := 0, 0
	for _, o := range origins {
		switch {
		case o == 3:
			wantErr++
		default:
			wantRPCs += int64(o + 1)
			if o%2 == 0 {
				wantExact++
			}
		}
	}
	if rep.Errors != wantErr || rep.OK != 300-wantErr || rep.RPCs != wantRPCs || len(rep.Latencies) != rep.OK || rep.Exact != wantExact {
		t.Fatalf("report ok %d errors %d rpcs %d samples %d exact %d; want errors %d rpcs %d exact %d",
			rep.OK, rep.Errors, rep.RPCs, len(rep.Latencies), rep.Exact, wantErr, wantRPCs, wantExact)
	}
	if wantErr > 0 && !errors.Is(rep.FirstErr, fail) {
		t.Fatalf("first error %v", rep.FirstErr)
	}
	if _, err := RunLookups(context.Background(), 0, 1, 1, 1, time.Second, nil); err == nil {
		t.Fatal("zero nodes accepted")
	}
}
