package search

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/cancerimage/cie/internal/audit"
	"github.com/cancerimage/cie/internal/disclosure"
	"github.com/cancerimage/cie/internal/fed"
	"github.com/cancerimage/cie/internal/query"
	"github.com/cancerimage/cie/internal/store"
)

// Service answers the hub's federated searches and atlas requests for one node.
type Service struct {
	node     string
	eval     *Evaluator
	releaser *disclosure.Releaser
	ledger   *disclosure.Ledger
	db       *store.DB
	audit    *audit.Log
	log      *slog.Logger
	now      func() time.Time

	auditEvery time.Duration
	flushMu    sync.Mutex // one FlushAudit at a time
}

// Options configure a Service.
type Options struct {
	Node   string            // the node's name
	DB     *store.DB         // the node's store (index, datasets, CDM, ledger)
	Policy disclosure.Policy // the node's disclosure policy
	Secret []byte            // the node's noise secret (at least disclosure.MinSecret bytes)
	Audit  *audit.Log        // every search is logged here
	Logger *slog.Logger
	// Now is the clock (tests); nil: time.Now.
	Now func() time.Time
	// AuditEvery is how often Run moves queued search events into the audit log;
	// 0: DefaultAuditEvery.
	AuditEvery time.Duration
}

// New returns the node's search service.
func New(o Options) (*Service, error) {
	if o.DB == nil || o.Audit == nil || o.Logger == nil {
		return nil, errors.New("search: a service needs a store, an audit log and a logger")
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	l := disclosure.NewLedger(o.DB).WithClock(now)
	r, err := disclosure.NewReleaser(o.Policy, o.Secret, l)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	every := o.AuditEvery
	if every <= 0 {
		every = DefaultAuditEvery
	}
	return &Service{node: o.Node, eval: NewEvaluator(o.DB), releaser: r, ledger: l, db: o.DB, audit: o.Audit, log: o.Logger, now: now,
		auditEvery: every}, nil
}

// Warm reads the published data searches are evaluated on (see Evaluator), so that
// the first search does not wait for it.
func (s *Service) Warm(ctx context.Context) error { return s.eval.Warm(ctx) }

// Policy returns the node's disclosure policy.
func (s *Service) Policy() disclosure.Policy { return s.releaser.Policy() }

// Answers reports whether the node answers on key: it evaluates it and its policy
// allows it.
func (s *Service) Answers(key string) bool { return Supported(key) && s.Policy().Allows(key) }

// Search answers one federated search. It never fails: a problem is an answer with
// status error or refused. Every search is audit-logged (who, the query's hash, the
// answer's status): its event is queued durably before the answer is returned, and
// Run moves it into the audit log within AuditEvery.
func (s *Service) Search(ctx context.Context, req *fed.SearchRequest) *fed.SearchAnswer {
	ans := s.search(ctx, req)
	ans.Node = s.node
	fields := map[string]string{"id": req.ID, "status": ans.Status}
	if ans.Message != "" {
		fields["message"] = ans.Message
	}
	if len(ans.Unsupported) > 0 {
		fields["unsupported"] = strings.Join(ans.Unsupported, ",")
	}
	actor := req.Researcher
	if actor == "" {
		actor = "unknown"
	}
	if err := s.queueAudit(ctx, audit.Event{Type: "search", Actor: actor, Subject: req.Hash, Fields: fields}); err != nil {
		s.log.Error("logging a search", "id", req.ID, "err", err)
		if ans.Status == fed.SearchOK { // nothing leaves unlogged
			return &fed.SearchAnswer{Node: s.node, Status: fed.SearchError, Message: "the node could not log the search"}
		}
	}
	s.log.Info("search", "id", req.ID, "researcher", req.Researcher, "hash", req.Hash, "status", ans.Status)
	return ans
}

func failed(status, format string, args ...any) *fed.SearchAnswer {
	return &fed.SearchAnswer{Status: status, Message: fmt.Sprintf(format, args...)}
}

func (s *Service) search(ctx context.Context, req *fed.SearchRequest) *fed.SearchAnswer {
	if err := req.Header.Check(); err != nil {
		return failed(fed.SearchError, "%v", err)
	}
	if req.Researcher == "" {
		return failed(fed.SearchError, "the search names no researcher")
	}
	if !req.Deadline.IsZero() {
		if !s.now().Before(req.Deadline) {
			return failed(fed.SearchError, "the search's deadline %s has passed", req.Deadline.UTC().Format(time.RFC3339Nano))
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, req.Deadline)
		defer cancel()
	}
	q, err := query.Parse(req.Query)
	if err != nil {
		return failed(fed.SearchError, "%v", err)
	}
	h := q.Hash()
	if req.Hash != h.String() {
		return failed(fed.SearchError, "the search's hash %q is not its query's (%s)", req.Hash, h)
	}
	if u := q.Unsupported(s.Answers); len(u) > 0 {
		names := make([]string, len(u))
		for i, k := range u {
			names[i] = k
			if kk, ok := query.LookupKey(k); ok {
				names[i] = k + " (" + kk.Name + ")"
			}
		}
		return &fed.SearchAnswer{Status: fed.SearchRefused, Unsupported: u,
			Message: "this node does not answer on " + strings.Join(names, ", ")}
	}
	results, err := s.eval.Evaluate(ctx, q)
	if err != nil {
		s.log.Error("evaluating a search", "id", req.ID, "err", err)
		if ctx.Err() != nil {
			return failed(fed.SearchError, "the search's deadline passed while the node evaluated it")
		}
		return failed(fed.SearchError, "the node could not evaluate the search")
	}
	cells := make([]disclosure.Cell, 0, 2*len(results))
	for _, r := range results {
		cells = append(cells, disclosure.Cell{Label: r.Dataset + "/subjects", N: r.Subjects}, disclosure.Cell{Label: r.Dataset + "/studies", N: r.Studies})
	}
	a, err := s.releaser.Answer(ctx, req.Researcher, h, cells)
	var be *disclosure.BudgetError
	if errors.As(err, &be) {
		return &fed.SearchAnswer{Status: fed.SearchRefused, Message: err.Error(), Budget: budget(be.Account)}
	}
	if err != nil {
		s.log.Error("releasing a search's answer", "id", req.ID, "err", err)
		return failed(fed.SearchError, "the node could not release the answer")
	}
	th := s.Policy().Threshold
	ans := &fed.SearchAnswer{Status: fed.SearchOK, Budget: budget(a.Account), Collections: []fed.Collection{}}
	for _, r := range results {
		count := func(label string) disclosure.Count {
			if c, ok := a.Counts[r.Dataset+label]; ok {
				return c
			}
			// Published after the question was first answered this period: the answer
			// given then stands, and this dataset gets no number in it.
			return disclosure.Suppressed(th)
		}
		c := fed.Collection{ID: r.Dataset, Name: r.Name, Description: r.Description,
			SubjectsCount: count("/subjects"), StudiesCount: count("/studies")}
		if _, hidden := c.SubjectsCount.Suppressed(); !hidden {
			if r.HasAge {
				c.AgeRange = &fed.Range{Min: r.AgeMin, Max: r.AgeMax}
			}
			c.Gender, c.Modalities, c.BodyParts = r.Genders, r.Modalities, r.BodyParts
		}
		ans.Collections = append(ans.Collections, c)
	}
	return ans
}

func budget(a disclosure.Account) *fed.Budget {
	return &fed.Budget{Spent: a.Spent, Remaining: a.Remaining, Renews: a.PeriodEnd}
}

// Atlas answers the public atlas: totals over published datasets, small cells
// suppressed, no noise.
func (s *Service) Atlas(ctx context.Context) *fed.AtlasAnswer {
	ans := &fed.AtlasAnswer{Node: s.node}
	t, err := s.eval.Totals(ctx)
	if err != nil {
		s.log.Error("atlas totals", "err", err)
		ans.Message = "the node could not count its datasets"
		return ans
	}
	th := s.Policy().Threshold
	release := func(m map[string]int) map[string]disclosure.Count {
		out := make(map[string]disclosure.Count, len(m))
		for k, n := range m {
			out[k] = disclosure.Suppress(n, th)
		}
		return out
	}
	ans.Subjects, ans.Studies = disclosure.Suppress(t.Subjects, th), disclosure.Suppress(t.Studies, th)
	ans.Modality, ans.BodyPart, ans.CancerType = release(t.Modality), release(t.BodyPart), release(t.CancerType)
	return ans
}

// Accounts lists every researcher's budget account in the current period, by name.
func (s *Service) Accounts(ctx context.Context) ([]disclosure.Account, error) {
	rows, err := s.db.Query(ctx, `SELECT DISTINCT researcher FROM disclosure_accounts ORDER BY researcher`)
	if err != nil {
		return nil, fmt.Errorf("search: budget accounts: %w", err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("search: budget accounts: %w", err)
		}
		names = append(names, n)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("search: budget accounts: %w", err)
	}
	out := make([]disclosure.Account, 0, len(names))
	for _, n := range names {
		a, err := s.ledger.Account(ctx, s.Policy(), n)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}
