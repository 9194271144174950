package groupcommit

import (
	"context"
	"sync"
)

// Committer runs a flush function for its callers, one run at a time, sharing each run
// among every caller waiting when it starts. The zero value is not usable: use New.
type Committer struct {
	flush func(context.Context) error

	mu      sync.Mutex
	running bool
	next    *run // the run the next callers join; started when the current one ends
	runs    int64
}

// run is one execution of the flush.
type run struct {
	done chan struct{}
	err  error
}

// New returns a Committer around flush. flush is called with a context that is not
// cancelled when a waiting caller gives up (the run serves the others too).
func New(flush func(context.Context) error) *Committer {
	return &Committer{flush: flush}
}

// Wait returns the error of a run of the flush that started after Wait was called, or
// ctx's error if ctx ends first (the run then still happens, for the others). A caller
// that finds no run going runs the flush itself, in its own goroutine: alone, it waits
// for no hand-over between threads, and it returns when that run ends, whatever ctx
// does meanwhile.
func (c *Committer) Wait(ctx context.Context) error {
	c.mu.Lock()
	if c.next == nil {
		c.next = &run{done: make(chan struct{})}
	}
	r := c.next
	if !c.running {
		c.next = nil
		c.running = true
		c.runs++
		c.mu.Unlock()
		c.finish(r)
		return r.err
	}
	c.mu.Unlock()
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Runs returns how many times the flush has run.
func (c *Committer) Runs() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runs
}

// startLocked starts the queued run in its own goroutine; c.mu is held.
func (c *Committer) startLocked() {
	r := c.next
	c.next = nil
	c.running = true
	c.runs++
	go c.finish(r)
}

// finish runs the flush for r, then starts the run queued meanwhile, if any.
func (c *Committer) finish(r *run) {
	r.err = c.flush(context.WithoutCancel(context.Background()))
	close(r.done)
	c.mu.Lock()
	c.running = false
	if c.next != nil {
		c.startLocked()
	}
	c.mu.Unlock()
}
