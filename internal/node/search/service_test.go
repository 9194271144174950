package search

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cancerimage/cie/internal/audit"
	"github.com/cancerimage/cie/internal/disclosure"
	"github.com/cancerimage/cie/internal/fed"
)

var testSecret = []byte("search test secret, 32 bytes or more")

func service(t *testing.T, f *fixture, p disclosure.Policy) *Service {
	t.Helper()
	s, err := New(Options{Node: demoNode, DB: f.a.DB(), Policy: p, Secret: testSecret, Audit: f.a.Audit(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func request(t *testing.T, researcher, q string) *fed.SearchRequest {
	t.Helper()
	return &fed.SearchRequest{Header: fed.Header{V: fed.Version}, ID: "s-" + researcher, Researcher: researcher,
		Query: json.RawMessage(q), Hash: mustParse(t, q).Hash().String(), Deadline: time.Now().Add(time.Minute)}
}

func collection(t *testing.T, a *fed.SearchAnswer, id string) fed.Collection {
	t.Helper()
	for _, c := range a.Collections {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no collection %s in %+v", id, a)
	return fed.Collection{}
}

func TestServiceSearch(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		s := service(t, f, disclosure.Policy{Threshold: 10, Epsilon: 1, Budget: 2, Period: 24 * time.Hour})
		start := f.a.Audit().Size()

		// Everything: counts above the threshold, with noise of scale 4/ε = 4.
		a := s.Search(ctx, request(t, "alice", qEverything))
		if a.Status != fed.SearchOK || a.Node != demoNode || len(a.Collections) != 2 {
			t.Fatalf("answer %+v", a)
		}
		if a.Budget == nil || a.Budget.Spent != 1 || a.Budget.Remaining != 1 || !a.Budget.Renews.After(time.Now()) {
			t.Errorf("budget %+v", a.Budget)
		}
		all := func(r row) bool { return true }
		exact := 0
		for _, id := range []string{f.ct, f.mr} {
			c := collection(t, a, id)
			subj, stud := f.expect(id, all)
			for _, x := range []struct {
				got  disclosure.Count
				want int
			}{{c.SubjectsCount, subj}, {c.StudiesCount, stud}} {
				v, ok := x.got.Value()
				// |noise| > 30 at scale 4 has probability e^-7.5; the draw is fixed by the secret.
				if x.want >= 10 && (!ok || v < x.want-30 || v > x.want+30) {
					t.Errorf("%s: released %v for %d", id, x.got, x.want)
				}
				if ok && v == x.want {
					exact++
				}
			}
			if len(c.Modalities) == 0 || len(c.Gender) == 0 || c.AgeRange == nil {
				t.Errorf("%s: attributes missing: %+v", id, c)
			}
		}
		if exact == 4 {
			t.Error("all four counts released exactly: no noise")
		}
		// The same question, written otherwise: the same answer, at no cost.
		again := s.Search(ctx, request(t, "alice", `{"ast": {"operand": "AND", "children": []}}`))
		if mustParse(t, `{"ast": {"operand": "AND", "children": []}}`).Hash() != mustParse(t, qEverything).Hash() {
			t.Log("the empty AND and OR differ in hash; asking the same text again")
			again = s.Search(ctx, request(t, "alice", qEverything))
		}
		j1, _ := json.Marshal(a.Collections)
		j2, _ := json.Marshal(again.Collections)
		if string(j1) != string(j2) || again.Budget.Spent != 1 {
			t.Errorf("asked again:\n%s\n%s\nspent %v", j1, j2, again.Budget.Spent)
		}

		// The example: fewer than 10 subjects, suppressed, attributes hidden.
		b := s.Search(ctx, request(t, "alice", qBreastMR))
		if b.Status != fed.SearchOK {
			t.Fatalf("breast example: %+v", b)
		}
		mr := collection(t, b, f.mr)
		if subj, _ := f.expect(f.mr, func(r row) bool {
			c := r.p.Clinical
			return c.Sex == "female" && c.AgeAtDiagnosis >= 40 && c.AgeAtDiagnosis <= 60 && c.CancerCode == "254837009" && r.se.Modality == "MR" && r.se.BodyPart == "BREAST"
		}); subj == 0 || subj >= 10 {
			t.Fatalf("the breast example has %d subjects in the test data; the test wants 1 to 9", subj)
		}
		if mr.SubjectsCount.String() != "< 10" || mr.AgeRange != nil || mr.Gender != nil || mr.Modalities != nil {
			t.Errorf("breast example released %+v", mr)
		}
		if ct := collection(t, b, f.ct); ct.SubjectsCount.String() != "< 10" || ct.StudiesCount.String() != "< 10" {
			t.Errorf("an empty dataset released %+v", ct)
		}

		// A third new question exceeds the budget of 2.
		r := s.Search(ctx, request(t, "alice", `{"ast":{"operand":"AND","children":[{"key":"RID10311","type":"EQUALS","value":"RID10321"}]}}`))
		if r.Status != fed.SearchRefused || !strings.Contains(r.Message, "privacy budget exceeded") || len(r.Collections) != 0 ||
			r.Budget == nil || r.Budget.Remaining != 0 || r.Budget.Spent != 2 {
			t.Errorf("over budget: %+v", r)
		}
		// Questions asked before are still answered.
		if a2 := s.Search(ctx, request(t, "alice", qEverything)); a2.Status != fed.SearchOK {
			t.Errorf("asked before, over budget: %+v", a2)
		}
		// Another researcher has their own budget and noise.
		if bob := s.Search(ctx, request(t, "bob", qEverything)); bob.Status != fed.SearchOK || bob.Budget.Spent != 1 {
			t.Errorf("bob: %+v", bob)
		}
		accs, err := s.Accounts(ctx)
		if err != nil || len(accs) != 2 || accs[0].Researcher != "alice" || accs[0].Spent != 2 || accs[1].Spent != 1 {
			t.Errorf("accounts %+v, %v", accs, err)
		}

		// Every search is in the audit log, with its hash and status, once the queue
		// is moved there.
		if err := s.FlushAudit(ctx); err != nil {
			t.Fatal(err)
		}
		if err := f.a.Audit().Flush(ctx); err != nil {
			t.Fatal(err)
		}
		entries, err := f.a.Audit().Entries(ctx, start, 100)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range entries {
			if e.Type == "search" {
				got = append(got, e.Actor+" "+e.Fields["status"]+" "+e.Subject[:14])
			}
		}
		h := func(q string) string { return mustParse(t, q).Hash().String()[:14] }
		want := []string{"alice ok " + h(qEverything), "alice ok " + h(qEverything), "alice ok " + h(qBreastMR)}
		if len(got) != 6 || strings.Join(got[:3], "|") != strings.Join(want, "|") || !strings.HasPrefix(got[3], "alice refused") {
			t.Errorf("audit log:\n%s", strings.Join(got, "\n"))
		}
	})
}

func TestServiceRefusals(t *testing.T) {
	f := newFixture(t, t.TempDir()+"/node.db")
	ctx := context.Background()
	p := disclosure.DefaultPolicy()
	p.AllowedKeys = []string{"RID10311", "SNOMEDCT263495000"}
	s := service(t, f, p)

	a := s.Search(ctx, request(t, "alice", qBreastMR))
	if a.Status != fed.SearchRefused || len(a.Collections) != 0 || a.Budget != nil ||
		strings.Join(a.Unsupported, ",") != "SNOMEDCT123037004,SNOMEDCT423493009,SNOMEDCT439401001" ||
		!strings.Contains(a.Message, "Age at Diagnosis") {
		t.Errorf("keys not allowed: %+v", a)
	}
	bi := `{"ast":{"operand":"AND","children":[{"key":"EUCAIM_Hyper-Ontology_V1.0.IMG1005459","type":"EQUALS","value":"EUCAIM_Hyper-Ontology_V1.0.IMG1005465"}]}}`
	if a := service(t, f, disclosure.DefaultPolicy()).Search(ctx, request(t, "alice", bi)); a.Status != fed.SearchRefused ||
		strings.Join(a.Unsupported, ",") != "EUCAIM_Hyper-Ontology_V1.0.IMG1005459" {
		t.Errorf("key not evaluated: %+v", a)
	}

	ok := request(t, "alice", `{"ast":{"operand":"AND","children":[{"key":"RID10311","type":"EQUALS","value":"RID10312"}]}}`)
	for name, mut := range map[string]func(r *fed.SearchRequest){
		"hash":       func(r *fed.SearchRequest) { r.Hash = mustParse(t, qBreastMR).Hash().String() },
		"deadline":   func(r *fed.SearchRequest) { r.Deadline = time.Now().Add(-time.Second) },
		"version":    func(r *fed.SearchRequest) { r.V = fed.Version + 1 },
		"researcher": func(r *fed.SearchRequest) { r.Researcher = "" },
		"query": func(r *fed.SearchRequest) {
			r.Query = json.RawMessage(`{"ast":{"operand":"AND","children":[{"key":"nosuch"}]}}`)
		},
	} {
		r := *ok
		mut(&r)
		if a := s.Search(ctx, &r); a.Status != fed.SearchError || a.Message == "" || len(a.Collections) != 0 {
			t.Errorf("%s: %+v", name, a)
		}
	}
	if a := s.Search(ctx, ok); a.Status != fed.SearchOK {
		t.Errorf("the good request: %+v", a)
	}
}

func TestAtlas(t *testing.T) {
	f := newFixture(t, t.TempDir()+"/node.db")
	s := service(t, f, disclosure.DefaultPolicy())
	a := s.Atlas(context.Background())
	if a.Message != "" || a.Node != demoNode {
		t.Fatalf("atlas %+v", a)
	}
	// Expected from the generator: studies of a published dataset (one with CT or MR).
	subj, stud, mods, parts, cancers := map[string]bool{}, map[string]bool{}, map[string]map[string]bool{}, map[string]map[string]bool{}, map[string]map[string]bool{}
	add := func(m map[string]map[string]bool, k, v string) {
		if k == "" {
			return
		}
		if m[k] == nil {
			m[k] = map[string]bool{}
		}
		m[k][v] = true
	}
	names := map[string]string{"254837009": "Breast Cancer", "363358000": "Lung Cancer", "399068003": "Prostate Cancer", "363406005": "Colon Cancer", "363484005": "Pelvis Cancer"}
	for _, r := range f.rows {
		if !f.inDataset(f.ct, r.st) && !f.inDataset(f.mr, r.st) {
			continue
		}
		who := r.p.ID + "\x00" + r.issuer
		subj[who], stud[r.st.UID] = true, true
		add(mods, r.se.Modality, r.st.UID)
		add(parts, r.se.BodyPart, r.st.UID)
		n := names[r.p.Clinical.CancerCode]
		if n == "" {
			n = "SNOMED CT " + r.p.Clinical.CancerCode
		}
		add(cancers, n, who)
	}
	check := func(what string, got disclosure.Count, n int) {
		t.Helper()
		if want := disclosure.Suppress(n, 10); got != want {
			t.Errorf("%s: %v, want %v (of %d)", what, got, want, n)
		}
	}
	check("subjects", a.Subjects, len(subj))
	check("studies", a.Studies, len(stud))
	suppressed := 0
	for _, g := range []struct {
		name string
		got  map[string]disclosure.Count
		want map[string]map[string]bool
	}{{"modality", a.Modality, mods}, {"body part", a.BodyPart, parts}, {"cancer type", a.CancerType, cancers}} {
		if len(g.got) != len(g.want) {
			t.Errorf("%s: %v, want %d keys", g.name, g.got, len(g.want))
		}
		for k, set := range g.want {
			check(g.name+" "+k, g.got[k], len(set))
			if len(set) < 10 {
				suppressed++
			}
		}
	}
	if suppressed == 0 {
		t.Log("no small cell in the atlas of the test data")
	}
}

// TestAuditQueue: a search's event is queued before the answer returns, Run moves it
// into the audit log (with the search's time and queue ID), and events a stopped
// service left queued are moved by the next one's Run at once.
func TestAuditQueue(t *testing.T) {
	f := newFixture(t, t.TempDir()+"/node.db")
	ctx := context.Background()
	log := f.a.Audit()
	searches := func() []audit.Entry {
		t.Helper()
		es, err := log.Entries(ctx, 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		var out []audit.Entry
		for _, e := range es {
			if e.Type == "search" {
				out = append(out, e)
			}
		}
		return out
	}
	queued := func() int {
		t.Helper()
		var n int
		if err := f.a.DB().QueryRow(ctx, `SELECT COUNT(*) FROM search_audit_queue`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	s1 := service(t, f, disclosure.DefaultPolicy())
	for _, r := range []string{"alice", "bob", "carol"} {
		if a := s1.Search(ctx, request(t, r, qEverything)); a.Status != fed.SearchOK {
			t.Fatalf("%s: %+v", r, a)
		}
	}
	if n := queued(); n != 3 || len(searches()) != 0 {
		t.Fatalf("%d queued, %d in the log before Run", n, len(searches()))
	}
	// A new service on the same store (a restart) moves them at once.
	s2, err := New(Options{Node: demoNode, DB: f.a.DB(), Policy: disclosure.DefaultPolicy(), Secret: testSecret, Audit: log,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), AuditEvery: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); s2.Run(rctx) }()
	waitFor := func(n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for len(searches()) < n || queued() > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%d search events in the log, %d queued; want %d, 0", len(searches()), queued(), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor(3)
	if a := s2.Search(ctx, request(t, "dave", qBreastMR)); a.Status != fed.SearchOK {
		t.Fatalf("dave: %+v", a)
	}
	waitFor(4)
	stop()
	<-done
	es := searches()
	for i, want := range []string{"alice", "bob", "carol", "dave"} {
		e := es[i]
		at, err := time.Parse(time.RFC3339Nano, e.Fields["at"])
		if e.Actor != want || e.Fields["status"] != fed.SearchOK || len(e.Fields["queued"]) != 24 || err != nil || at.After(e.Time) {
			t.Errorf("event %d: %+v (at %v)", i, e, err)
		}
	}
	if len(es) != 4 {
		t.Errorf("%d search events, want 4", len(es))
	}
}
