package groupcommit

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCoversEarlierWrites checks the promise: when Wait returns, the flush has seen every
// write made before Wait was called, whatever the interleaving of many callers.
func TestCoversEarlierWrites(t *testing.T) {
	var written, flushed atomic.Int64 // a "write" bumps written; a flush copies it
	c := New(func(context.Context) error {
		flushed.Store(written.Load())
		time.Sleep(200 * time.Microsecond)
		return nil
	})
	var wg sync.WaitGroup
	var bad atomic.Int64
	const callers, each = 16, 200
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				w := written.Add(1)
				if err := c.Wait(context.Background()); err != nil {
					t.Error(err)
					return
				}
				if flushed.Load() < w {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d waits returned before a flush covered their write", bad.Load())
	}
	runs := c.Runs()
	t.Logf("%d waits, %d flushes", callers*each, runs)
	if runs >= callers*each {
		t.Errorf("%d flushes for %d waits: no flush was shared", runs, callers*each)
	}
}

// TestOneCallerOneRun checks that a lone caller gets a run of its own each time.
func TestOneCallerOneRun(t *testing.T) {
	n := 0
	c := New(func(context.Context) error { n++; return nil })
	for range 5 {
		if err := c.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n != 5 || c.Runs() != 5 {
		t.Fatalf("flush ran %d times (Runs %d), want 5", n, c.Runs())
	}
}

// TestError checks that a run's error reaches every caller of that run, and that the
// next run is tried afresh.
func TestError(t *testing.T) {
	boom := errors.New("disk on fire")
	fail := true
	c := New(func(context.Context) error {
		if fail {
			return boom
		}
		return nil
	})
	if err := c.Wait(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("got %v, want %v", err, boom)
	}
	fail = false
	if err := c.Wait(context.Background()); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}

// TestCancel checks that a caller waiting for a slow run it did not start can give up,
// and that the caller running it returns when it ends.
func TestCancel(t *testing.T) {
	release, started := make(chan struct{}), make(chan struct{}, 1)
	c := New(func(context.Context) error {
		select {
		case started <- struct{}{}:
		default:
		}
		<-release
		return nil
	})
	leader := make(chan error, 1)
	go func() { leader <- c.Wait(context.Background()) }()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := c.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want deadline exceeded", err)
	}
	close(release)
	if err := <-leader; err != nil {
		t.Fatalf("the caller that ran the flush: %v", err)
	}
	if err := c.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
}
