package loadgen

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

type countingCaller struct {
	n    *atomic.Int64
	fail bool
}

func (c countingCaller) Call() (int, error) {
	c.n.Add(1)
	if c.fail {
		return 0, errors.New("boom")
	}
	return 3, nil
}

func TestRunBoundedByCount(t *testing.T) {
	var n atomic.Int64
	callers := []Caller{countingCaller{n: &n}, countingCaller{n: &n}, countingCaller{n: &n}}
	var starts, ends int
	rep, err := Run(context.Background(), Config{
		Duration: time.Hour, // the count bound must end the run
		MaxCalls: 5000,
		OnWindowStart: func(context.Context) error {
			starts++
			return nil
		},
		OnWindowEnd: func(context.Context) error {
			ends++
			return nil
		},
	}, callers)
	if err != nil {
		t.Fatal(err)
	}
	if got := n.Load(); got != 5000 {
		t.Fatalf("calls made = %d, want exactly 5000", got)
	}
	// Calls still in flight when the window closes are not counted: at most one per worker.
	lo := int64(5000 - len(callers))
	if rep.Calls < lo || rep.Calls > 5000 || rep.Errors != 0 || rep.AnswerNodes != 3*rep.Calls ||
		int64(len(rep.Latencies)) != rep.Calls || !rep.Truncated {
		t.Fatalf("report = calls %d errors %d nodes %d samples %d truncated %v",
			rep.Calls, rep.Errors, rep.AnswerNodes, len(rep.Latencies), rep.Truncated)
	}
	if starts != 1 || ends != 1 {
		t.Fatalf("window hooks ran %d/%d times", starts, ends)
	}
}

func TestRunStopsFailingWorkers(t *testing.T) {
	var n atomic.Int64
	rep, err := Run(context.Background(), Config{Duration: time.Hour, MaxCalls: 1 << 40, MaxConsecutiveErrors: 7},
		[]Caller{countingCaller{n: &n, fail: true}, countingCaller{n: &n, fail: true}})
	if err != nil {
		t.Fatal(err)
	}
	if got := n.Load(); got != 14 {
		t.Fatalf("calls made = %d, want 2 workers x 7", got)
	}
	if rep.Errors != 14 || rep.Calls != 0 || !rep.Truncated {
		t.Fatalf("report %+v", rep)
	}
}

func TestRunHookErrorAndBadConfig(t *testing.T) {
	var n atomic.Int64
	c := []Caller{countingCaller{n: &n}}
	hookErr := errors.New("no server")
	_, err := Run(context.Background(), Config{Duration: time.Hour, MaxCalls: 100,
		OnWindowStart: func(context.Context) error { return hookErr }}, c)
	if !errors.Is(err, hookErr) {
		t.Fatalf("err = %v, want the hook's error", err)
	}
	if _, err := Run(context.Background(), Config{Duration: time.Second}, c); err == nil {
		t.Fatal("MaxCalls 0 accepted")
	}
	if _, err := Run(context.Background(), Config{Duration: time.Second, MaxCalls: 1}, nil); !errors.Is(err, ErrNoWorkers) {
		t.Fatalf("no workers: %v", err)
	}
}
