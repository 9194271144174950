package archive

import (
	"context"
	"sync"
	"time"

	"github.com/cancerimage/cie/internal/node/index"
)

// putter writes the index rows of concurrent ingests together: the rows that arrive
// while one transaction runs are written in the next, as one (the index's writes are one
// at a time anyway on SQLite, and a transaction's commit costs about as much for one
// row as for several). Alone, an ingest writes its row at once, in its own goroutine.
type putter struct {
	ix *index.Index

	mu      sync.Mutex
	running bool
	queue   []*putReq
}

// putReq is one ingest's row and, once done is closed, its outcome.
type putReq struct {
	rec   index.Record
	now   time.Time
	added bool
	err   error
	done  chan struct{}
}

// put indexes rec like index.Put. It returns once the row is written or failed, even if
// ctx ends meanwhile (the caller counts on the row's fate being known).
func (p *putter) put(ctx context.Context, rec index.Record, now time.Time) (bool, error) {
	r := &putReq{rec: rec, now: now, done: make(chan struct{})}
	p.mu.Lock()
	p.queue = append(p.queue, r)
	if p.running {
		p.mu.Unlock()
		<-r.done
		return r.added, r.err
	}
	p.running = true
	batch := p.queue
	p.queue = nil
	p.mu.Unlock()
	p.write(context.WithoutCancel(ctx), batch)
	p.next(ctx)
	return r.added, r.err
}

// next hands the rows queued meanwhile to a goroutine of their own, or stops.
func (p *putter) next(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.queue) == 0 {
		p.running = false
		return
	}
	batch := p.queue
	p.queue = nil
	go func() {
		p.write(context.WithoutCancel(ctx), batch)
		p.next(ctx)
	}()
}

// write indexes a batch in one transaction; if that fails, each row alone, so that a
// row that cannot be written fails only its own ingest.
func (p *putter) write(ctx context.Context, batch []*putReq) {
	defer func() {
		for _, r := range batch {
			close(r.done)
		}
	}()
	if len(batch) > 1 {
		recs := make([]index.Record, len(batch))
		for i, r := range batch {
			recs[i] = r.rec
		}
		if isNew, _, err := p.ix.PutEach(ctx, recs, batch[0].now); err == nil {
			for i, r := range batch {
				r.added = isNew[i]
			}
			return
		}
	}
	for _, r := range batch {
		r.added, r.err = p.ix.Put(ctx, r.rec, r.now)
	}
}
