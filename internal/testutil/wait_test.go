package testutil

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

func TestWaitFor(t *testing.T) {
	var n atomic.Int32
	go func() {
		for n.Load() < 3 {
			n.Add(1)
		}
	}()
	WaitFor(t, time.Minute, "three", func() bool { return n.Load() == 3 })

	ft := &fakeT{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		WaitFor(ft, 10*time.Millisecond, "never", func() bool { return false })
	}()
	<-done
	if !ft.failed {
		t.Fatal("WaitFor did not fail on a condition that never holds")
	}
}

// fakeT records Fatalf (and ends the goroutine as testing.T does).
type fakeT struct {
	testing.TB
	failed bool
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(string, ...any) {
	f.failed = true
	runtime.Goexit()
}
