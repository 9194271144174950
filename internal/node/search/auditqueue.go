package search

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/cancerimage/cie/internal/audit"
	"github.com/cancerimage/cie/internal/store"
)

// DefaultAuditEvery is how often queued search events are moved into the audit log.
const DefaultAuditEvery = 10 * time.Second

// auditBatch is the most queued events moved in one AppendBatch.
const auditBatch = 256

// queueAudit records a search's audit event durably (committed and synced) in
// search_audit_queue. The event's fields get "at", the time of the search, for the
// log's entry is made later, when Run moves the event.
func (s *Service) queueAudit(ctx context.Context, e audit.Event) error {
	now := s.now()
	id := fmt.Sprintf("%016x%08x", now.UnixNano(), rand.Uint32())
	if e.Fields == nil {
		e.Fields = map[string]string{}
	}
	e.Fields["at"] = now.UTC().Format(time.RFC3339Nano)
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("search: queueing the audit event: %w", err)
	}
	if _, err := s.db.Exec(ctx, `INSERT INTO search_audit_queue (id, event, created_ms) VALUES (?, ?, ?)`,
		id, string(b), now.UnixMilli()); err != nil {
		return fmt.Errorf("search: queueing the audit event: %w", err)
	}
	if err := s.db.Sync(ctx); err != nil {
		return fmt.Errorf("search: queueing the audit event: %w", err)
	}
	return nil
}

// Run moves the queued audit events of searches into the node's audit log, in
// batches, every AuditEvery, until ctx ends; then once more. Events a stop left in
// the queue go at once. A crash between a batch's append and its removal from the
// queue appends it again on the next start: each event's "queued" field (its queue
// ID) tells such a repeat.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(s.auditEvery)
	defer t.Stop()
	for {
		if err := s.FlushAudit(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("moving search events into the audit log", "err", err)
		}
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			if err := s.FlushAudit(fctx); err != nil {
				s.log.Error("moving search events into the audit log at stop; they stay queued for the next start", "err", err)
			}
			cancel()
			return
		case <-t.C:
		}
	}
}

// FlushAudit moves every queued search event into the audit log now.
func (s *Service) FlushAudit(ctx context.Context) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	for {
		ids, events, err := s.queued(ctx)
		if err != nil || len(ids) == 0 {
			return err
		}
		if _, err := s.audit.AppendBatch(ctx, events); err != nil {
			return err
		}
		ph := strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ")
		args := make([]any, len(ids))
		for i, id := range ids {
			args[i] = id
		}
		if _, err := s.db.Exec(ctx, `DELETE FROM search_audit_queue WHERE id IN (`+ph+`)`, args...); err != nil {
			return fmt.Errorf("search: clearing the audit queue: %w", err)
		}
	}
}

// Queued counts the search events not yet moved into the audit log, and says how often
// they are moved.
func (s *Service) Queued(ctx context.Context) (uint64, time.Duration, error) {
	var n uint64
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM search_audit_queue`).Scan(&n); err != nil {
		return 0, 0, fmt.Errorf("search: counting the audit queue: %w", err)
	}
	return n, s.auditEvery, nil
}

// queued reads the oldest queued events, at most auditBatch.
func (s *Service) queued(ctx context.Context) ([]string, []audit.Event, error) {
	var ids []string
	var events []audit.Event
	err := s.db.ReadTx(ctx, func(tx *store.Tx) error {
		return each(ctx, tx, `SELECT id, event FROM search_audit_queue ORDER BY id LIMIT ?`, []any{auditBatch}, func(sc scanner) error {
			var id, body string
			if err := sc.Scan(&id, &body); err != nil {
				return err
			}
			var e audit.Event
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				return fmt.Errorf("queued event %s: %w", id, err)
			}
			if e.Fields == nil {
				e.Fields = map[string]string{}
			}
			e.Fields["queued"] = id
			ids, events = append(ids, id), append(events, e)
			return nil
		})
	})
	if err != nil {
		return nil, nil, fmt.Errorf("search: reading the audit queue: %w", err)
	}
	return ids, events, nil
}
