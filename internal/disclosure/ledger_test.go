package disclosure

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/cancerimage/cie/internal/query"
	"github.com/cancerimage/cie/internal/store"
	"github.com/cancerimage/cie/internal/testenv"
)

// engines runs fn on a fresh store in SQLite and in PostgreSQL, migrated with
// MigrationSQL alone.
func engines(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	for _, e := range []struct {
		name string
		url  func(t testing.TB) string
	}{
		{"sqlite", func(t testing.TB) string { return filepath.Join(t.TempDir(), "node.db") }},
		{"postgres", testenv.Postgres},
	} {
		t.Run(e.name, func(t *testing.T) {
			fsys := fstest.MapFS{"00001_disclosure.sql": {Data: []byte(MigrationSQL)}}
			db, err := store.OpenMigrated(context.Background(), e.url(t), nil, fsys, "test_disclosure_migrations")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			fn(t, db)
		})
	}
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func hashOf(t *testing.T, s string) query.Hash {
	t.Helper()
	q, err := query.Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return q.Hash()
}

var (
	qMR = `{"ast":{"operand":"AND","children":[{"key":"RID10311","type":"EQUALS","value":"RID10312"}]}}`
	qCT = `{"ast":{"operand":"AND","children":[{"key":"RID10311","type":"EQUALS","value":"RID10321"}]}}`
	qPT = `{"ast":{"operand":"AND","children":[{"key":"RID10311","type":"EQUALS","value":"RID10337"}]}}`
)

func TestLedger(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// 1 January 1970 + 100 days: a period of 10 days starts at day 100.
		c := &clock{t: time.Unix(0, 0).Add(100*24*time.Hour + 5*time.Hour)}
		l := NewLedger(db).WithClock(c.now)
		p := Policy{Threshold: 10, Epsilon: 0.75, Budget: 2, Period: 10 * 24 * time.Hour}
		mr, ct, pt := hashOf(t, qMR), hashOf(t, qCT), hashOf(t, qPT)

		acc, err := l.Account(ctx, p, "alice")
		if err != nil || acc.Spent != 0 || acc.Remaining != 2 || acc.Answers != 0 {
			t.Fatalf("fresh account %+v, %v", acc, err)
		}
		if !acc.PeriodStart.Equal(time.Unix(0, 0).Add(100*24*time.Hour)) || !acc.PeriodEnd.Equal(time.Unix(0, 0).Add(110*24*time.Hour)) {
			t.Errorf("period %v – %v", acc.PeriodStart, acc.PeriodEnd)
		}
		if _, ok, err := l.Answered(ctx, p, "alice", mr); ok || err != nil {
			t.Fatalf("Answered before asking: %v, %v", ok, err)
		}
		acc, err = l.Charge(ctx, p, "alice", mr, []byte(`{"a":1}`))
		if err != nil || acc.Spent != 0.75 || acc.Remaining != 1.25 || acc.Answers != 1 {
			t.Fatalf("first charge %+v, %v", acc, err)
		}
		if ans, ok, err := l.Answered(ctx, p, "alice", mr); !ok || err != nil || string(ans) != `{"a":1}` {
			t.Fatalf("Answered %s, %v, %v", ans, ok, err)
		}
		if _, err := l.Charge(ctx, p, "alice", mr, []byte(`{"a":2}`)); !errors.Is(err, ErrAnswered) {
			t.Fatalf("same question again: %v", err)
		}
		c.add(time.Minute)
		if _, err := l.Charge(ctx, p, "alice", ct, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		// 0.75 + 0.75 + 0.75 > 2: refused, and nothing recorded.
		acc, err = l.Charge(ctx, p, "alice", pt, []byte(`{}`))
		var be *BudgetError
		if !errors.As(err, &be) || !errors.Is(err, ErrBudgetExceeded) {
			t.Fatalf("over budget: %v", err)
		}
		if acc.Spent != 1.5 || acc.Remaining != 0.5 || be.Cost != 0.75 {
			t.Errorf("refused: account %+v, cost %v", acc, be.Cost)
		}
		for _, want := range []string{"privacy budget exceeded", "costs ε 0.75", "alice has spent 1.5 of 2", "0.5 left", "renews on 1970-04-21T00:00:00Z"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("message %q lacks %q", err, want)
			}
		}
		if _, ok, _ := l.Answered(ctx, p, "alice", pt); ok {
			t.Error("a refused question was recorded")
		}
		// Another researcher has their own budget.
		if acc, err := l.Charge(ctx, p, "bob", pt, []byte(`{}`)); err != nil || acc.Spent != 0.75 {
			t.Errorf("bob: %+v, %v", acc, err)
		}
		hist, err := l.History(ctx, "alice", 0)
		if err != nil || len(hist) != 2 || hist[0].QueryHash != ct || hist[1].QueryHash != mr || hist[0].Cost != 0.75 || !hist[0].At.After(hist[1].At) {
			t.Fatalf("history %+v, %v", hist, err)
		}
		if hist, _ := l.History(ctx, "alice", 1); len(hist) != 1 || hist[0].QueryHash != ct {
			t.Errorf("history limit 1: %+v", hist)
		}
		// A new period: the budget renews, and an old question costs again.
		c.add(10 * 24 * time.Hour)
		if _, ok, _ := l.Answered(ctx, p, "alice", mr); ok {
			t.Error("an answer of the last period counts in this one")
		}
		if acc, err := l.Charge(ctx, p, "alice", pt, []byte(`{}`)); err != nil || acc.Spent != 0.75 || acc.Answers != 1 {
			t.Errorf("new period: %+v, %v", acc, err)
		}
		if hist, _ := l.History(ctx, "alice", 0); len(hist) != 3 {
			t.Errorf("history over periods: %d entries", len(hist))
		}
		// Bad calls.
		if _, err := l.Charge(ctx, p, "", mr, nil); err == nil {
			t.Error("no researcher: charged")
		}
		if _, err := l.Account(ctx, Policy{}, "alice"); err == nil {
			t.Error("invalid policy: accepted")
		}
	})
}

// TestLedgerConcurrent: many new questions at once never overspend, and the
// same question at once is charged once.
func TestLedgerConcurrent(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := NewLedger(db)
		p := Policy{Threshold: 10, Epsilon: 1, Budget: 5, Period: time.Hour}
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok, refused, answered := 0, 0, 0
		for i := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				q := `{"ast":{"operand":"AND","children":[{"key":"SNOMEDCT432213005","type":"EQUALS","value":` + string(rune('0'+i%6)) + `}]}}`
				_, err := l.Charge(ctx, p, "carol", hashOf(t, q), []byte(`{}`))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case errors.Is(err, ErrBudgetExceeded):
					refused++
				case errors.Is(err, ErrAnswered):
					answered++
				default:
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		acc, err := l.Account(ctx, p, "carol")
		if err != nil {
			t.Fatal(err)
		}
		// Six distinct questions, each asked twice, budget for five.
		if ok != 5 || acc.Spent != 5 || acc.Answers != 5 || ok+refused+answered != 12 {
			t.Errorf("charged %d, refused %d, already answered %d; account %+v", ok, refused, answered, acc)
		}
	})
}
