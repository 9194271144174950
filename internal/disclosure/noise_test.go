package disclosure

import (
	"math"
	"strconv"
	"testing"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

func TestLaplaceQuantile(t *testing.T) {
	b := 2.0
	for _, tc := range []struct{ u, want float64 }{
		{0.5, 0},
		{0.75, b * math.Ln2},  // F(b ln 2) = 1 − ½·e^(−ln 2) = ¾
		{0.25, -b * math.Ln2}, // symmetric
		{1 - 0.5*math.Exp(-3), 3 * b},
		{0.5 * math.Exp(-3), -3 * b},
	} {
		if got := LaplaceQuantile(tc.u, b); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("LaplaceQuantile(%v, %v) = %v, want %v", tc.u, b, got, tc.want)
		}
	}
}

func TestUniformDeterministic(t *testing.T) {
	u := Uniform(testSecret, "alice", "sha256:00", "d1/subjects")
	if u <= 0 || u >= 1 {
		t.Fatalf("u = %v", u)
	}
	if Uniform(testSecret, "alice", "sha256:00", "d1/subjects") != u {
		t.Error("the same fields give another u")
	}
	for name, other := range map[string]float64{
		"researcher": Uniform(testSecret, "bob", "sha256:00", "d1/subjects"),
		"query":      Uniform(testSecret, "alice", "sha256:01", "d1/subjects"),
		"label":      Uniform(testSecret, "alice", "sha256:00", "d1/studies"),
		"secret":     Uniform([]byte("another secret of thirty-two b.."), "alice", "sha256:00", "d1/subjects"),
		"framing":    Uniform(testSecret, "alicesha256:00", "", "d1/subjects"),
	} {
		if other == u {
			t.Errorf("another %s gives the same u", name)
		}
	}
}

// TestLaplaceStatistics draws noise for n fixed labels — deterministic, so
// the test cannot flake — and checks it against Laplace(0, b) with b = 1/ε:
// the mean (variance 2b²), the mean absolute value (|X| is exponential with
// mean b and variance b²), the share of positive draws (½) and the tail
// P(|X| > b·ln 10) = 1/10, each within 5 standard errors for n draws. A wrong scale, a sign bias or a skewed
// uniform fails it.
func TestLaplaceStatistics(t *testing.T) {
	const n = 200000
	for _, eps := range []float64{0.1, 1, 2} {
		b := 1 / eps
		var sum, sumAbs float64
		tail, positive := 0, 0
		for i := range n {
			x := Laplace(testSecret, b, "stat", strconv.Itoa(i))
			sum += x
			sumAbs += math.Abs(x)
			if x > 0 {
				positive++
			}
			if math.Abs(x) > b*math.Log(10) {
				tail++
			}
		}
		mean, meanAbs, pTail := sum/n, sumAbs/n, float64(tail)/n
		if se := math.Sqrt(2) * b / math.Sqrt(n); math.Abs(mean) > 5*se {
			t.Errorf("ε %v: mean %v, want 0 ± %v", eps, mean, 5*se)
		}
		if se := b / math.Sqrt(n); math.Abs(meanAbs-b) > 5*se {
			t.Errorf("ε %v: mean |noise| %v, want scale %v ± %v", eps, meanAbs, b, 5*se)
		}
		if p, se := float64(positive)/n, math.Sqrt(0.25/n); math.Abs(p-0.5) > 5*se {
			t.Errorf("ε %v: P(noise > 0) = %v, want 0.5 ± %v", eps, p, 5*se)
		}
		if se := math.Sqrt(0.1 * 0.9 / n); math.Abs(pTail-0.1) > 5*se {
			t.Errorf("ε %v: P(|noise| > b ln 10) = %v, want 0.1 ± %v", eps, pTail, 5*se)
		}
	}
}
