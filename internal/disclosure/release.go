package disclosure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/cancerimage/cie/internal/query"
)

// Cell is one true count of an answer, by a label unique in the answer, such
// as "dataset-7/subjects".
type Cell struct {
	Label string
	N     int
}

// Answer is what a node releases for a question.
type Answer struct {
	Counts map[string]Count `json:"counts"`
	// Cached says the question was answered before this period: the same
	// answer, at no cost.
	Cached  bool    `json:"cached"`
	Account Account `json:"account"`
}

// Releaser applies a node's policy to its answers.
type Releaser struct {
	policy Policy
	secret []byte
	ledger *Ledger
}

// MinSecret is the least length of a node's noise secret, in bytes.
const MinSecret = 32

// NewReleaser returns a releaser for the policy, keyed with the node's secret
// (at least MinSecret random bytes, kept: another secret gives other noise,
// and a new secret lets researchers average old and new answers).
func NewReleaser(p Policy, secret []byte, l *Ledger) (*Releaser, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("disclosure: policy: %w", err)
	}
	if len(secret) < MinSecret {
		return nil, fmt.Errorf("disclosure: noise secret of %d bytes, want at least %d", len(secret), MinSecret)
	}
	if l == nil {
		return nil, errors.New("disclosure: no ledger")
	}
	return &Releaser{policy: p, secret: append([]byte(nil), secret...), ledger: l}, nil
}

// Policy returns the releaser's policy.
func (r *Releaser) Policy() Policy { return r.policy }

// Noisy releases the cells of one answer without touching the ledger: each
// gets Laplace noise of scale len(cells)/ε, derived from the node's secret,
// the researcher, the question and the cell's label, and the threshold.
func (r *Releaser) Noisy(researcher string, h query.Hash, cells []Cell) (map[string]Count, error) {
	if researcher == "" {
		return nil, errors.New("disclosure: no researcher")
	}
	b := float64(len(cells)) / r.policy.Epsilon
	out := make(map[string]Count, len(cells))
	for _, c := range cells {
		if c.Label == "" {
			return nil, errors.New("disclosure: a cell without a label")
		}
		if _, dup := out[c.Label]; dup {
			return nil, fmt.Errorf("disclosure: cell %q twice", c.Label)
		}
		if c.N < 0 {
			return nil, fmt.Errorf("disclosure: cell %q: negative count %d", c.Label, c.N)
		}
		noise := Laplace(r.secret, b, "cie disclosure v1", researcher, h.String(), c.Label)
		out[c.Label] = Release(c.N, noise, r.policy.Threshold)
	}
	return out, nil
}

// Answer releases the cells of the researcher's question h: the stored
// answer if the question was answered this period (no cost), otherwise
// noisy counts charged to the researcher's budget, or a *BudgetError if
// that would exceed it.
func (r *Releaser) Answer(ctx context.Context, researcher string, h query.Hash, cells []Cell) (Answer, error) {
	if a, ok, err := r.cached(ctx, researcher, h); err != nil || ok {
		return a, err
	}
	counts, err := r.Noisy(researcher, h, cells)
	if err != nil {
		return Answer{}, err
	}
	stored, err := json.Marshal(counts)
	if err != nil {
		return Answer{}, fmt.Errorf("disclosure: %w", err)
	}
	acc, err := r.ledger.Charge(ctx, r.policy, researcher, h, stored)
	if errors.Is(err, ErrAnswered) { // the same question, concurrently
		a, ok, err := r.cached(ctx, researcher, h)
		if err == nil && !ok {
			err = fmt.Errorf("disclosure: answer of %s to %s vanished", researcher, h)
		}
		return a, err
	}
	if err != nil {
		return Answer{}, err
	}
	return Answer{Counts: counts, Account: acc}, nil
}

func (r *Releaser) cached(ctx context.Context, researcher string, h query.Hash) (Answer, bool, error) {
	stored, ok, err := r.ledger.Answered(ctx, r.policy, researcher, h)
	if err != nil || !ok {
		return Answer{}, false, err
	}
	var counts map[string]Count
	if err := json.Unmarshal(stored, &counts); err != nil {
		return Answer{}, false, fmt.Errorf("disclosure: stored answer of %s to %s: %w", researcher, h, err)
	}
	acc, err := r.ledger.Account(ctx, r.policy, researcher)
	if err != nil {
		return Answer{}, false, err
	}
	return Answer{Counts: counts, Cached: true, Account: acc}, true, nil
}

// Labels returns the labels of an answer's counts, sorted.
func (a Answer) Labels() []string {
	out := make([]string, 0, len(a.Counts))
	for l := range a.Counts {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}
