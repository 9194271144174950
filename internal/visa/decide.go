package visa

import (
	"context"
	"fmt"
	"time"
)

// Check verifies every token a caller presented (visas or passports, e.g.
// the visas the hub attaches to a relayed request) and returns each visa
// with the outcome of its checks, without deciding or logging anything: a
// caller that weighs several datasets for one request (a study may belong to
// more than one) decides with Decide and logs once with Record. A token
// refused as a whole (a malformed token, an expired passport, stale keys) is
// one Checked without a Visa.
func (v *Verifier) Check(ctx context.Context, tokens []string) []Checked {
	var out []Checked
	for _, tok := range tokens {
		checked, err := v.VerifyToken(ctx, tok)
		if err != nil {
			out = append(out, Checked{Err: err})
			continue
		}
		out = append(out, checked...)
	}
	return out
}

// check reports what makes req unanswerable: an invalid action or no dataset.
func (req Request) check() error {
	if err := req.Action.Valid(); err != nil {
		return err
	}
	if req.Dataset == "" {
		return fmt.Errorf("%w: no dataset", ErrInvalid)
	}
	return nil
}

// Decide evaluates visas verified by Check against req, as Allow does: the
// grant of the first visa that permits req, or the refusal of the visa that
// came closest (one wrapping ErrNoVisa if there are none). It logs nothing.
func Decide(checked []Checked, req Request) Decision {
	var d Decision
	if err := req.check(); err != nil {
		d.Err = err
	} else {
		d = decide(checked, req)
	}
	if d.Err != nil {
		d.Allowed = false
		d.Reason = d.Err.Error()
	} else if d.Allowed && d.Reason == "" {
		d.Reason = fmt.Sprintf("visa %s grants %s access to %s until %s", d.Visa.JTI, d.Visa.Access,
			d.Visa.Value, d.Visa.Expires.Format(time.RFC3339))
	}
	return d
}
