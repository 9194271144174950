package disclosure

import (
	"math"
	"slices"
	"time"

	"github.com/cancerimage/cie/internal/config"
	"github.com/cancerimage/cie/internal/query"
)

// Policy is a node's disclosure policy, a section of its configuration.
type Policy struct {
	Threshold   int           `yaml:"threshold" help:"counts below this are reported as \"< threshold\", never as a number"`
	Epsilon     float64       `yaml:"epsilon" help:"privacy loss ε of one answer: its counts get Laplace noise of scale (number of counts)/ε"`
	Budget      float64       `yaml:"budget" help:"ε a researcher may spend per period; a question that would exceed it is refused"`
	Period      time.Duration `yaml:"period" help:"length of a budget period, counted from 1970-01-01 UTC, e.g. 720h"`
	AllowedKeys []string      `yaml:"allowed_keys" help:"search keys this node answers, comma-separated; empty: every key of the vocabulary"`
}

// DefaultPolicy returns the defaults: threshold 10, ε 1 per answer, a budget
// of 20 per researcher per 30 days, every key allowed.
func DefaultPolicy() Policy {
	return Policy{Threshold: 10, Epsilon: 1, Budget: 20, Period: 30 * 24 * time.Hour}
}

// Validate checks the policy; errors are *config.FieldError naming the field.
func (p Policy) Validate() error {
	switch {
	case p.Threshold < 1:
		return config.Errorf("threshold", "must be at least 1, got %d", p.Threshold)
	case !(p.Epsilon > 0) || math.IsInf(p.Epsilon, 0):
		return config.Errorf("epsilon", "must be a number above 0, got %v", p.Epsilon)
	case math.IsNaN(p.Budget) || math.IsInf(p.Budget, 0) || p.Budget < p.Epsilon:
		return config.Errorf("budget", "must be at least epsilon (%v), got %v", p.Epsilon, p.Budget)
	case micro(p.Budget) > 1e15:
		return config.Errorf("budget", "too large: %v", p.Budget)
	case p.Period < time.Hour:
		return config.Errorf("period", "must be at least 1h, got %v", p.Period)
	}
	for _, k := range p.AllowedKeys {
		if _, ok := query.LookupKey(k); !ok {
			return config.Errorf("allowed_keys", "%q is not a search key of the vocabulary", k)
		}
	}
	return nil
}

// Allows reports whether the policy lets the node answer on key.
func (p Policy) Allows(key string) bool {
	return len(p.AllowedKeys) == 0 || slices.Contains(p.AllowedKeys, key)
}

// Keys lists the keys the node answers: AllowedKeys, or the whole vocabulary.
func (p Policy) Keys() []string {
	if len(p.AllowedKeys) == 0 {
		return query.Keys()
	}
	return slices.Clone(p.AllowedKeys)
}

// micro converts ε to the ledger's integer unit, millionths.
func micro(eps float64) int64 { return int64(math.Round(eps * 1e6)) }

func fromMicro(m int64) float64 { return float64(m) / 1e6 }
