package access

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/cancerimage/cie/internal/catalogue"
	"github.com/cancerimage/cie/internal/node/dataset"
	"github.com/cancerimage/cie/internal/node/dicomweb"
	"github.com/cancerimage/cie/internal/visa"
)

// ErrNotPublished means the dataset a visa grants is not published at the node (a draft,
// or invalidated), or the study asked for is in no published dataset.
var ErrNotPublished = errors.New("dataset not published")

// ErrUnknownDataset means a state lookup found no such dataset at the node (the
// dataset store's own error).
var ErrUnknownDataset = dataset.ErrNotFound

// Datasets is what the policy reads of the node's datasets.
type Datasets interface {
	// Membership returns the datasets holding a study, with their states.
	Membership(ctx context.Context, study string) (map[string]catalogue.State, error)
	// State returns a dataset's state, or an error wrapping ErrUnknownDataset.
	State(ctx context.Context, id string) (catalogue.State, error)
}

// Policy decides visa holders' requests at one node.
type Policy struct {
	Verifier *visa.Verifier
	Datasets Datasets
	// Node is the node's name, for messages.
	Node string
}

// Caller is who asks, with the tokens they presented.
type Caller struct {
	// Subject is the user the hub authenticated for a relayed request (each visa's
	// "sub" must match it); empty for a token presented directly, which stands alone.
	Subject string
	// Tokens are visas or passports (JWTs).
	Tokens []string
}

// Result is a decision.
type Result struct {
	Allowed bool
	// Status is the HTTP status of a refusal: 403, or 503 when the decision could not
	// be audit-logged (or looked up); 0 when allowed.
	Status int
	// Reason is the sentence the caller sees (and the audit log keeps).
	Reason string
	// Err wraps a sentinel error for a refusal.
	Err error
	// Datasets are the datasets a search may see (Search only).
	Datasets []string
}

// ActionFor returns the visa action an operation needs; false for operations no visa
// grants (store, and the 404 of no resource).
func ActionFor(op dicomweb.Op) (visa.Action, bool) {
	switch op {
	case dicomweb.OpSearch, dicomweb.OpMetadata, dicomweb.OpBulkdata, dicomweb.OpFrames, dicomweb.OpRendered, dicomweb.OpThumbnail:
		return visa.ActionView, true
	case dicomweb.OpRetrieve:
		return visa.ActionDownload, true
	}
	return "", false
}

// result turns a recorded decision into a Result.
func result(d visa.Decision) Result {
	if d.Allowed {
		return Result{Allowed: true, Reason: d.Reason}
	}
	st := http.StatusForbidden
	if errors.Is(d.Err, visa.ErrAudit) {
		st = http.StatusServiceUnavailable
	}
	return Result{Status: st, Reason: d.Reason, Err: d.Err}
}

// failed is a refusal because the node could not look its datasets up: logged too,
// and 503 (the caller may try again), never a grant.
func (p *Policy) failed(ctx context.Context, req visa.Request, err error) Result {
	d := p.Verifier.Record(ctx, req, visa.Decision{Err: fmt.Errorf("node %s could not read its datasets: %w", p.Node, err)})
	r := result(d)
	r.Status = http.StatusServiceUnavailable
	return r
}

// granted returns the datasets that valid visas among checked name, sorted, once each.
func granted(checked []visa.Checked) []string {
	var out []string
	for _, c := range checked {
		if c.Err == nil && c.Visa != nil && !slices.Contains(out, c.Visa.Value) {
			out = append(out, c.Visa.Value)
		}
	}
	slices.Sort(out)
	return out
}

// firstError is the refusal of a token or visa that failed its own checks (expired,
// revoked, forged, …), preferring one whose visa could be read.
func firstError(checked []visa.Checked) error {
	var anon error
	for _, c := range checked {
		if c.Err == nil {
			continue
		}
		if c.Visa != nil {
			return c.Err
		}
		if anon == nil {
			anon = c.Err
		}
	}
	return anon
}

// Resource decides whether c may do act to a study (or a series or instance of it).
func (p *Policy) Resource(ctx context.Context, c Caller, study string, act visa.Action, resource string) Result {
	base := visa.Request{Action: act, Subject: c.Subject, Resource: resource}
	members, err := p.Datasets.Membership(ctx, study)
	if err != nil {
		return p.failed(ctx, base, err)
	}
	var published []string
	for id, st := range members {
		if st == catalogue.StatePublished {
			published = append(published, id)
		}
	}
	slices.Sort(published)
	checked := p.Verifier.Check(ctx, c.Tokens)
	var best visa.Decision
	var bestReq visa.Request
	for _, id := range published {
		req := base
		req.Dataset = id
		d := visa.Decide(checked, req)
		if d.Allowed {
			return result(p.Verifier.Record(ctx, req, d))
		}
		// A refusal by a visa for this very dataset (wrong access model, expired, …)
		// says more than "not for this dataset".
		if best.Err == nil || errors.Is(best.Err, visa.ErrWrongDataset) && !errors.Is(d.Err, visa.ErrWrongDataset) {
			best, bestReq = d, req
		}
	}
	if best.Err == nil || errors.Is(best.Err, visa.ErrWrongDataset) || errors.Is(best.Err, visa.ErrNoVisa) {
		// A valid visa for a dataset of the study that is not published explains more.
		for _, id := range granted(checked) {
			if st, ok := members[id]; ok && st != catalogue.StatePublished {
				req := base
				req.Dataset = id
				d := visa.Decide(checked, req)
				d.Allowed = false
				d.Err = fmt.Errorf("%w: dataset %s is %s at node %s, so its images are not served", ErrNotPublished, id, st, p.Node)
				return result(p.Verifier.Record(ctx, req, d))
			}
		}
	}
	if len(published) == 0 {
		d := visa.Decision{Err: fmt.Errorf("%w: study %s is in no published dataset of node %s", ErrNotPublished, study, p.Node)}
		return result(p.Verifier.Record(ctx, base, d))
	}
	return result(p.Verifier.Record(ctx, bestReq, best))
}

// Search decides a search (QIDO-RS) by c: allowed with the published datasets its visas
// grant for viewing, refused if there are none.
func (p *Policy) Search(ctx context.Context, c Caller, resource string) Result {
	base := visa.Request{Action: visa.ActionView, Subject: c.Subject, Resource: resource}
	checked := p.Verifier.Check(ctx, c.Tokens)
	var scope []string
	var refusal visa.Decision
	var refusalReq visa.Request
	var unpublished, unknown error
	for _, id := range granted(checked) {
		req := base
		req.Dataset = id
		st, err := p.Datasets.State(ctx, id)
		switch {
		case errors.Is(err, ErrUnknownDataset):
			if unknown == nil {
				unknown = fmt.Errorf("%w: the visa is for %s, which node %s does not hold", visa.ErrWrongDataset, id, p.Node)
			}
			continue
		case err != nil:
			return p.failed(ctx, req, err)
		case st != catalogue.StatePublished:
			if unpublished == nil {
				unpublished = fmt.Errorf("%w: dataset %s is %s at node %s, so its images are not served", ErrNotPublished, id, st, p.Node)
			}
			continue
		}
		d := visa.Decide(checked, req)
		if !d.Allowed {
			if refusal.Err == nil {
				refusal, refusalReq = d, req
			}
			continue
		}
		if d = p.Verifier.Record(ctx, req, d); !d.Allowed {
			return result(d)
		}
		scope = append(scope, id)
	}
	if len(scope) > 0 {
		return Result{Allowed: true, Datasets: scope, Reason: fmt.Sprintf("search of the studies of %d datasets", len(scope))}
	}
	if refusal.Err != nil {
		return result(p.Verifier.Record(ctx, refusalReq, refusal))
	}
	var err error
	for _, e := range []error{unpublished, firstError(checked), unknown} {
		if e != nil {
			err = e
			break
		}
	}
	return result(p.Verifier.Record(ctx, base, visa.Decision{Err: err}))
}
