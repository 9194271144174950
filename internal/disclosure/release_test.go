package disclosure

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cancerimage/cie/internal/store"
)

func TestReleaser(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p := Policy{Threshold: 10, Epsilon: 1, Budget: 2, Period: 24 * time.Hour}
		r, err := NewReleaser(p, testSecret, NewLedger(db))
		if err != nil {
			t.Fatal(err)
		}
		cells := []Cell{{"d1/subjects", 120}, {"d1/studies", 300}, {"d2/subjects", 4}}
		mr := hashOf(t, qMR)
		first, err := r.Answer(ctx, "alice", mr, cells)
		if err != nil {
			t.Fatal(err)
		}
		if first.Cached || first.Account.Spent != 1 || strings.Join(first.Labels(), " ") != "d1/studies d1/subjects d2/subjects" {
			t.Fatalf("first answer %+v", first)
		}
		if c := first.Counts["d2/subjects"]; c.String() != "< 10" {
			t.Errorf("4 subjects released as %s", c)
		}
		for label, n := range map[string]int{"d1/subjects": 120, "d1/studies": 300} {
			v, ok := first.Counts[label].Value()
			// Scale 3/ε = 3: |noise| > 40 has probability e^(-40/3) < 2e-6;
			// the draw is fixed by the test secret.
			if !ok || v < n-40 || v > n+40 {
				t.Errorf("%s: %v for %d", label, first.Counts[label], n)
			}
		}
		// The same question: the same answer, at no cost, even if the data
		// changed meanwhile.
		again, err := r.Answer(ctx, "alice", mr, []Cell{{"d1/subjects", 500}})
		if err != nil || !again.Cached || again.Account.Spent != 1 || len(again.Counts) != 3 {
			t.Fatalf("again: %+v, %v", again, err)
		}
		for l, c := range first.Counts {
			if again.Counts[l] != c {
				t.Errorf("%s: %v then %v", l, c, again.Counts[l])
			}
		}
		// Another researcher: other noise (on at least one of the counts),
		// but the same for them when asked twice in other periods.
		bob, err := r.Noisy("bob", mr, cells)
		if err != nil {
			t.Fatal(err)
		}
		if bob["d1/subjects"] == first.Counts["d1/subjects"] && bob["d1/studies"] == first.Counts["d1/studies"] {
			t.Errorf("bob gets alice's noise: %v %v", bob, first.Counts)
		}
		bob2, _ := r.Noisy("bob", mr, cells)
		if bob2["d1/subjects"] != bob["d1/subjects"] || bob2["d1/studies"] != bob["d1/studies"] {
			t.Error("Noisy is not deterministic")
		}
		// The budget: one more new question fits, the next is refused.
		if _, err := r.Answer(ctx, "alice", hashOf(t, qCT), cells); err != nil {
			t.Fatal(err)
		}
		_, err = r.Answer(ctx, "alice", hashOf(t, qPT), cells)
		if !errors.Is(err, ErrBudgetExceeded) || !strings.Contains(err.Error(), "alice has spent 2 of 2") {
			t.Fatalf("third question: %v", err)
		}
		// A question asked before still gets its answer.
		if a, err := r.Answer(ctx, "alice", mr, cells); err != nil || !a.Cached {
			t.Errorf("asked before, over budget: %+v, %v", a, err)
		}
		for name, bad := range map[string][]Cell{
			"no label": {{"", 1}},
			"twice":    {{"a", 1}, {"a", 2}},
			"negative": {{"a", -1}},
		} {
			if _, err := r.Noisy("alice", mr, bad); err == nil {
				t.Errorf("%s: released", name)
			}
		}
	})
}

func TestNewReleaser(t *testing.T) {
	l := &Ledger{}
	if _, err := NewReleaser(DefaultPolicy(), testSecret[:31], l); err == nil {
		t.Error("short secret taken")
	}
	if _, err := NewReleaser(Policy{}, testSecret, l); err == nil {
		t.Error("invalid policy taken")
	}
	if _, err := NewReleaser(DefaultPolicy(), testSecret, nil); err == nil {
		t.Error("no ledger taken")
	}
}
