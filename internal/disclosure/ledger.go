package disclosure

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"time"

	"github.com/cancerimage/cie/internal/query"
	"github.com/cancerimage/cie/internal/store"
)

// MigrationSQL is the goose migration (SQLite and PostgreSQL) that creates
// the ledger's tables, for the node's migrations.
//
//go:embed migration.sql
var MigrationSQL string

var (
	// ErrBudgetExceeded means a question would take a researcher over their
	// privacy budget; the error is a *BudgetError.
	ErrBudgetExceeded = errors.New("privacy budget exceeded")
	// ErrAnswered means the question was answered already this period.
	ErrAnswered = errors.New("question already answered this period")
)

// BudgetError says why a question was refused.
type BudgetError struct {
	Researcher string
	Cost       float64 // what the question would cost
	Account    Account
}

func (e *BudgetError) Error() string {
	return fmt.Sprintf("%v: a new question costs ε %g; %s has spent %g of %g this period, %g left; the budget renews on %s",
		ErrBudgetExceeded, e.Cost, e.Researcher, e.Account.Spent, e.Account.Budget, e.Account.Remaining,
		e.Account.PeriodEnd.UTC().Format(time.RFC3339))
}

func (e *BudgetError) Unwrap() error { return ErrBudgetExceeded }

// Account is a researcher's budget in one period.
type Account struct {
	Researcher  string    `json:"researcher"`
	PeriodStart time.Time `json:"period_start"`
	PeriodEnd   time.Time `json:"period_end"`
	Budget      float64   `json:"budget"`
	Spent       float64   `json:"spent"`
	Remaining   float64   `json:"remaining"`
	Answers     int       `json:"answers"` // questions charged this period
}

// Entry is one charged question.
type Entry struct {
	Researcher  string     `json:"researcher"`
	QueryHash   query.Hash `json:"query_hash"`
	Cost        float64    `json:"cost"`
	At          time.Time  `json:"at"`
	PeriodStart time.Time  `json:"period_start"`
}

// Ledger keeps the privacy budget accounts in the node's store (tables of
// [MigrationSQL]). It is safe for concurrent use, also by several processes
// sharing a PostgreSQL database.
type Ledger struct {
	db  *store.DB
	now func() time.Time
}

// NewLedger returns the ledger of db.
func NewLedger(db *store.DB) *Ledger { return &Ledger{db: db, now: time.Now} }

// WithClock returns a ledger reading the time from now, for tests.
func (l *Ledger) WithClock(now func() time.Time) *Ledger { return &Ledger{db: l.db, now: now} }

// period returns the budget period of p containing t: periods are counted
// from the Unix epoch.
func period(p Policy, t time.Time) (start, end time.Time) {
	d := p.Period.Milliseconds()
	ms := t.UnixMilli()
	s := ms - ((ms%d)+d)%d
	return time.UnixMilli(s).UTC(), time.UnixMilli(s + d).UTC()
}

func check(p Policy, researcher string) error {
	if researcher == "" {
		return errors.New("disclosure: no researcher")
	}
	if err := p.Validate(); err != nil {
		return fmt.Errorf("disclosure: policy: %w", err)
	}
	return nil
}

// Answered returns the answer released for the question this period, if any.
func (l *Ledger) Answered(ctx context.Context, p Policy, researcher string, h query.Hash) ([]byte, bool, error) {
	if err := check(p, researcher); err != nil {
		return nil, false, err
	}
	start, _ := period(p, l.now())
	var answer string
	err := store.Classify(l.db.QueryRow(ctx, `SELECT answer FROM disclosure_answers
		WHERE researcher = ? AND period_start_ms = ? AND query_hash = ?`, researcher, start.UnixMilli(), h.String()).Scan(&answer))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("disclosure: read answer of %s: %w", researcher, err)
	}
	return []byte(answer), true, nil
}

// Charge records a new question and its answer, charging the policy's ε to
// the researcher's account in the current period. It returns a *BudgetError
// (ErrBudgetExceeded) and records nothing if that would exceed the budget,
// and ErrAnswered if the question was answered already this period.
func (l *Ledger) Charge(ctx context.Context, p Policy, researcher string, h query.Hash, answer []byte) (Account, error) {
	if err := check(p, researcher); err != nil {
		return Account{}, err
	}
	now := l.now()
	start, _ := period(p, now)
	cost, budget := micro(p.Epsilon), micro(p.Budget)
	var refused bool
	err := l.db.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO disclosure_accounts (researcher, period_start_ms, spent_micro, answers)
			VALUES (?, ?, 0, 0) ON CONFLICT (researcher, period_start_ms) DO NOTHING`, researcher, start.UnixMilli()); err != nil {
			return err
		}
		// One conditional update: concurrent charges cannot both pass the check.
		res, err := tx.Exec(ctx, `UPDATE disclosure_accounts SET spent_micro = spent_micro + ?, answers = answers + 1
			WHERE researcher = ? AND period_start_ms = ? AND spent_micro + ? <= ?`, cost, researcher, start.UnixMilli(), cost, budget)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			refused = true
			return nil
		}
		_, err = tx.Exec(ctx, `INSERT INTO disclosure_answers (researcher, period_start_ms, query_hash, cost_micro, answer, created_ms)
			VALUES (?, ?, ?, ?, ?, ?)`, researcher, start.UnixMilli(), h.String(), cost, string(answer), now.UnixMilli())
		return err
	})
	if errors.Is(err, store.ErrConflict) {
		return Account{}, ErrAnswered
	}
	if err != nil {
		return Account{}, fmt.Errorf("disclosure: charge %s: %w", researcher, err)
	}
	acc, err := l.Account(ctx, p, researcher)
	if err != nil {
		return Account{}, err
	}
	if refused {
		return acc, &BudgetError{Researcher: researcher, Cost: p.Epsilon, Account: acc}
	}
	return acc, nil
}

// Account returns the researcher's account in the current period.
func (l *Ledger) Account(ctx context.Context, p Policy, researcher string) (Account, error) {
	if err := check(p, researcher); err != nil {
		return Account{}, err
	}
	start, end := period(p, l.now())
	acc := Account{Researcher: researcher, PeriodStart: start, PeriodEnd: end, Budget: p.Budget}
	var spent int64
	err := store.Classify(l.db.QueryRow(ctx, `SELECT spent_micro, answers FROM disclosure_accounts
		WHERE researcher = ? AND period_start_ms = ?`, researcher, start.UnixMilli()).Scan(&spent, &acc.Answers))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Account{}, fmt.Errorf("disclosure: read account of %s: %w", researcher, err)
	}
	acc.Spent = fromMicro(spent)
	acc.Remaining = fromMicro(max(micro(p.Budget)-spent, 0))
	return acc, nil
}

// History lists the researcher's charged questions, newest first, at most
// limit (all when limit ≤ 0).
func (l *Ledger) History(ctx context.Context, researcher string, limit int) ([]Entry, error) {
	if researcher == "" {
		return nil, errors.New("disclosure: no researcher")
	}
	q := `SELECT query_hash, cost_micro, created_ms, period_start_ms FROM disclosure_answers
		WHERE researcher = ? ORDER BY created_ms DESC, query_hash`
	args := []any{researcher}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := l.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("disclosure: history of %s: %w", researcher, err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var hash string
		var cost, at, start int64
		if err := rows.Scan(&hash, &cost, &at, &start); err != nil {
			return nil, fmt.Errorf("disclosure: history of %s: %w", researcher, err)
		}
		h, err := query.ParseHash(hash)
		if err != nil {
			return nil, fmt.Errorf("disclosure: history of %s: %w", researcher, err)
		}
		out = append(out, Entry{Researcher: researcher, QueryHash: h, Cost: fromMicro(cost), At: time.UnixMilli(at).UTC(), PeriodStart: time.UnixMilli(start).UTC()})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("disclosure: history of %s: %w", researcher, err)
	}
	return out, nil
}
