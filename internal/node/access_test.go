package node

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cancerimage/cie/internal/auth"
	"github.com/cancerimage/cie/internal/catalogue"
	"github.com/cancerimage/cie/internal/fed"
	"github.com/cancerimage/cie/internal/node/archive"
	"github.com/cancerimage/cie/internal/synth"
	"github.com/cancerimage/cie/internal/visa"
)

const testHub = "https://hub.example.org"

// studyRef names one instance of a study.
type studyRef struct{ study, series, sop string }

// accessWorld is a node with four studies: A and B in published datasets, X in an
// invalidated one, N in none; a hub visa issuer whose keys the node holds; node users
// with tokens.
type accessWorld struct {
	n       *Node
	srv     *httptest.Server
	is      *visa.Issuer
	hubNow  func() time.Time
	setHub  func(time.Time)
	studies map[string]studyRef // "A", "B", "X", "N"
	ds      map[string]string   // "A", "B", "X" → dataset id
	tokens  map[string]string   // node user → API token
	cookies map[string]*http.Cookie
}

// datasetMeta is complete catalogue metadata, as a data holder fills it in.
func datasetMeta(title string) catalogue.Dataset {
	return catalogue.Dataset{
		Title: title, Description: "Test images.", Keywords: []string{"test"},
		CancerTypes:  []catalogue.Code{catalogue.Terms(catalogue.KindCancerType)[0].Code},
		BodyParts:    []catalogue.Code{catalogue.Terms(catalogue.KindBodyPart)[0].Code},
		AccessRights: catalogue.AccessRestricted,
		License:      "https://creativecommons.org/licenses/by-nc/4.0/",
		Contact:      catalogue.Contact{Name: "Data desk", Email: "data@example.org"},
		Publisher:    catalogue.Publisher{Name: "Example Hospital"},
		InteropLevel: catalogue.Tier2,
	}
}

// ingestSynth stores generated studies in the node's archive and returns one instance
// of each study, in the generator's order.
func ingestSynth(t *testing.T, n *Node, patients int) []studyRef {
	t.Helper()
	ctx := context.Background()
	g, err := synth.New(synth.Options{Seed: 11, Node: "t", Patients: patients, Rows: 16, Columns: 16, MinSlices: 2, MaxSlices: 2,
		MaxSeriesPerStudy: 1})
	if err != nil {
		t.Fatal(err)
	}
	var out []studyRef
	seen := map[string]bool{}
	err = g.Walk(func(in *synth.Instance) error {
		var buf bytes.Buffer
		if _, err := in.File.WriteTo(&buf); err != nil {
			return err
		}
		o, err := n.archive.Ingest(ctx, bytes.NewReader(buf.Bytes()), int64(buf.Len()), archive.Source{Kind: "test"})
		if err != nil || o.Status != archive.Stored {
			return fmt.Errorf("ingest: %+v %v", o, err)
		}
		if !seen[o.StudyUID] {
			seen[o.StudyUID] = true
			out = append(out, studyRef{o.StudyUID, o.SeriesUID, o.SOPUID})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func newAccessWorld(t *testing.T) *accessWorld {
	t.Helper()
	ctx := context.Background()
	n, _ := newNode(t, "oslo")
	w := &accessWorld{n: n, studies: map[string]studyRef{}, ds: map[string]string{}, tokens: map[string]string{},
		cookies: map[string]*http.Cookie{}}
	var mu sync.Mutex
	now := time.Now()
	w.hubNow = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	w.setHub = func(t time.Time) { mu.Lock(); defer mu.Unlock(); now = t }
	var err error
	if w.is, err = visa.OpenIssuer(visa.IssuerOptions{Dir: t.TempDir(), Issuer: testHub, Now: w.hubNow}); err != nil {
		t.Fatal(err)
	}
	w.pushKeys(t)

	refs := ingestSynth(t, n, 4)
	if len(refs) < 4 {
		t.Fatalf("%d studies generated, want 4", len(refs))
	}
	for i, k := range []string{"A", "B", "X", "N"} {
		w.studies[k] = refs[i]
	}
	for _, k := range []string{"A", "B", "X"} {
		d, err := n.datasets.Create(ctx, "holder", datasetMeta("Dataset "+k), []string{w.studies[k].study})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.datasets.Apply(ctx, "holder", d.ID, catalogue.ActionPublish); err != nil {
			t.Fatal(err)
		}
		w.ds[k] = d.ID
	}
	if _, err := n.datasets.Apply(ctx, "holder", w.ds["X"], catalogue.ActionInvalidate); err != nil {
		t.Fatal(err)
	}
	for name, role := range map[string]string{"holder": auth.RoleDataHolder, "admin": auth.RoleNodeAdmin, "rita": auth.RoleResearcher} {
		if err := n.users.Put(ctx, name, role, "password-"+name+"-123456"); err != nil {
			t.Fatal(err)
		}
		tok, _, err := n.users.IssueToken(ctx, name, "test")
		if err != nil {
			t.Fatal(err)
		}
		w.tokens[name] = tok
		rec := httptest.NewRecorder()
		u, err := n.users.Get(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		n.sessions.Start(rec, u)
		for _, c := range rec.Result().Cookies() {
			w.cookies[name] = c
		}
	}
	w.srv = httptest.NewServer(n.Handler())
	t.Cleanup(w.srv.Close)
	return w
}

// pushKeys gives the node the hub's keys and revocations, as the hub's push does.
func (w *accessWorld) pushKeys(t *testing.T) {
	t.Helper()
	msg, err := w.is.UpdateMessage()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.n.visas.HandleUpdate(msg); err != nil {
		t.Fatal(err)
	}
}

func (w *accessWorld) issue(t *testing.T, sub, ds string, access visa.Access) visa.Issued {
	t.Helper()
	iss, err := w.is.Issue(visa.Grant{Subject: sub, Dataset: ds, Access: access, Expires: w.hubNow().Add(time.Hour), RequestID: "req-1"})
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

// forge signs the claims of a genuine visa again with another key under the genuine
// key id.
func forge(t *testing.T, genuine string) string {
	t.Helper()
	parts := strings.Split(genuine, ".")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// Widen the grant, as a forger would: download access.
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	claims["cie_access"] = "download"
	payload, _ := json.Marshal(claims)
	input := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// caller is one column of the matrix: how it authenticates directly at the node and as
// a request relayed by the hub.
type caller struct {
	name string
	// direct: the Authorization header value ("" none), or "cookie:<user>" for a session.
	direct string
	// relayed: the user and role the hub asserts and the visas it attaches; skip if
	// noRelay.
	user, role string
	visas      []string
	member     bool // the hub vouches the user is a member of the node
	noRelay    bool
	noDirect   bool
	// reason is part of the message of its refusal of the requests of class
	// reasonClass (viewA if empty).
	reason, reasonClass string
	// searchLogs is the number of audit entries a granted search makes: one per
	// dataset granted (1 if zero).
	searchLogs int
}

// Expected outcome classes of the matrix.
const (
	search    = "search"    // QIDO-RS over the whole archive: status and the studies seen
	searchA   = "searchA"   // QIDO-RS below study A
	viewA     = "viewA"     // metadata, frames, rendered, thumbnails, bulk data of study A
	downloadA = "downloadA" // WADO-RS retrieve of study A
	viewX     = "viewX"     // viewing study X (its dataset is invalidated)
	viewN     = "viewN"     // viewing study N (in no dataset)
	stow      = "store"     // STOW-RS
	api       = "api"       // the dataset API (never relayed)
	page      = "page"      // the node's pages (never relayed)
)

// TestAuthorizationMatrix is the node half of the authorization matrix: every node
// endpoint × every kind of caller → status, directly and relayed by the hub. Searches
// also check which studies they return; every decision about a visa holder must add
// exactly one entry to the node's audit log.
func TestAuthorizationMatrix(t *testing.T) {
	w := newAccessWorld(t)
	ctx := context.Background()
	A, B, X := w.ds["A"], w.ds["B"], w.ds["X"]

	good := w.issue(t, "alice", A, visa.AccessDownload)
	view := w.issue(t, "alice", A, visa.AccessView)
	other := w.issue(t, "alice", B, visa.AccessDownload)
	process := w.issue(t, "alice", A, visa.AccessProcess)
	unpub := w.issue(t, "alice", X, visa.AccessDownload)
	revoked := w.issue(t, "alice", A, visa.AccessDownload)
	if err := w.is.Revoke(revoked.JTI, revoked.Expires, "project ended"); err != nil {
		t.Fatal(err)
	}
	w.pushKeys(t)
	real := w.hubNow()
	w.setHub(real.Add(-3 * time.Hour))
	expired := w.issue(t, "alice", A, visa.AccessDownload) // expired two hours ago
	w.setHub(real)
	forged := forge(t, view.Token)
	passport, err := w.is.IssuePassport("alice", []string{other.Token, good.Token}, w.hubNow().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	bearer := func(tok string) string { return "Bearer " + tok }

	callers := []caller{
		{name: "anonymous"},
		{name: "researcher without visa", direct: bearer(w.tokens["rita"]), user: "alice", role: auth.RoleResearcher, reason: "no visa"},
		{name: "visa (download) for A", direct: bearer(good.Token), user: "alice", role: auth.RoleResearcher, visas: []string{good.Token}},
		{name: "passport with visas for B and A", direct: bearer(passport), user: "alice", role: auth.RoleResearcher, visas: []string{passport}, searchLogs: 2},
		{name: "visa (view) for A", direct: bearer(view.Token), user: "alice", role: auth.RoleResearcher, visas: []string{view.Token}},
		{name: "visa for another dataset", direct: bearer(other.Token), user: "alice", role: auth.RoleResearcher, visas: []string{other.Token}, reason: "not for this dataset"},
		{name: "expired visa", direct: bearer(expired.Token), user: "alice", role: auth.RoleResearcher, visas: []string{expired.Token}, reason: "expired"},
		{name: "revoked visa", direct: bearer(revoked.Token), user: "alice", role: auth.RoleResearcher, visas: []string{revoked.Token}, reason: "revoked"},
		{name: "forged visa", direct: bearer(forged), user: "alice", role: auth.RoleResearcher, visas: []string{forged}, reason: "bad signature"},
		{name: "visa with the wrong access model", direct: bearer(process.Token), user: "alice", role: auth.RoleResearcher, visas: []string{process.Token}, reason: "process access does not permit view"},
		{name: "visa for an invalidated dataset", direct: bearer(unpub.Token), user: "alice", role: auth.RoleResearcher, visas: []string{unpub.Token}, reason: "is invalidated", reasonClass: viewX},
		{name: "someone else's visa", noDirect: true, user: "bob", role: auth.RoleResearcher, visas: []string{good.Token}},
		{name: "data holder of another node", direct: bearer("cie_" + strings.Repeat("x", 43)), user: "bergen-holder", role: auth.RoleDataHolder},
		{name: "platform admin", noDirect: true, user: "padmin", role: auth.RolePlatformAdmin},
		{name: "data holder", direct: bearer(w.tokens["holder"]), user: "holder", role: auth.RoleDataHolder, member: true},
		{name: "node admin", direct: bearer(w.tokens["admin"]), user: "admin", role: auth.RoleNodeAdmin, member: true},
		// A hub user who has the name of the node's data holder but is not a member of
		// the node at the hub: the name opens nothing.
		{name: "holder's name, not a member", noDirect: true, user: "holder", role: auth.RoleDataHolder, reason: "no visa"},
		{name: "data holder session", direct: "cookie:holder", noRelay: true},
		{name: "node admin session", direct: "cookie:admin", noRelay: true},
	}

	// want[caller][class] is "status" or, for searches, "status studies-seen".
	// Directly at the node; relayed differences are in wantRelay.
	all := "200 ABNX"
	want := map[string]map[string]string{
		"anonymous":                        {search: "401", searchA: "401", viewA: "401", downloadA: "401", viewX: "401", viewN: "401", stow: "401", api: "401", page: "303"},
		"researcher without visa":          {search: "403", searchA: "403", viewA: "403", downloadA: "403", viewX: "403", viewN: "403", stow: "403", api: "403", page: "303"},
		"visa (download) for A":            {search: "200 A", searchA: "200 A", viewA: "200", downloadA: "200", viewX: "403", viewN: "403", stow: "403", api: "401", page: "303"},
		"passport with visas for B and A":  {search: "200 AB", searchA: "200 A", viewA: "200", downloadA: "200", viewX: "403", viewN: "403", stow: "403", api: "401", page: "303"},
		"visa (view) for A":                {search: "200 A", searchA: "200 A", viewA: "200", downloadA: "403", viewX: "403", viewN: "403", stow: "403", api: "401", page: "303"},
		"visa for another dataset":         {search: "200 B", searchA: "200 ", viewA: "403", downloadA: "403", viewX: "403", viewN: "403", stow: "403", api: "401", page: "303"},
		"expired visa":                     {search: "403", searchA: "403", viewA: "403", downloadA: "403", viewX: "403", viewN: "403", stow: "403", api: "401", page: "303"},
		"revoked visa":                     {search: "403", searchA: "403", viewA: "403", downloadA: "403", viewX: "403", viewN: "403", stow: "403", api: "401", page: "303"},
		"forged visa":                      {search: "403", searchA: "403", viewA: "403", downloadA: "403", viewX: "403", viewN: "403", stow: "403", api: "401", page: "303"},
		"visa with the wrong access model": {search: "403", searchA: "403", viewA: "403", downloadA: "403", viewX: "403", viewN: "403", stow: "403", api: "401", page: "303"},
		"visa for an invalidated dataset":  {search: "403", searchA: "403", viewA: "403", downloadA: "403", viewX: "403", viewN: "403", stow: "403", api: "401", page: "303"},
		"data holder of another node":      {search: "401", searchA: "401", viewA: "401", downloadA: "401", viewX: "401", viewN: "401", stow: "401", api: "401", page: "303"},
		"data holder":                      {search: all, searchA: "200 A", viewA: "200", downloadA: "200", viewX: "200", viewN: "200", stow: "415", api: "ok", page: "303"},
		"node admin":                       {search: all, searchA: "200 A", viewA: "200", downloadA: "200", viewX: "200", viewN: "200", stow: "415", api: "ok", page: "303"},
		"data holder session":              {search: all, searchA: "200 A", viewA: "200", downloadA: "200", viewX: "200", viewN: "200", stow: "415", api: "ok", page: "200"},
		"node admin session":               {search: all, searchA: "200 A", viewA: "200", downloadA: "200", viewX: "200", viewN: "200", stow: "415", api: "ok", page: "200"},
	}
	// Relayed by the hub: the hub's user and role, and its visas. The hub asserts a
	// role, but only users the node knows as its own data holders or admins, and whom
	// the hub vouches for as members of the node, pass without a visa; a relay without
	// visas is refused (403), not 401.
	refused := map[string]string{search: "403", searchA: "403", viewA: "403", downloadA: "403", viewX: "403", viewN: "403"}
	wantRelay := map[string]map[string]string{
		"anonymous":                   refused,
		"researcher without visa":     refused,
		"someone else's visa":         refused,
		"data holder of another node": refused,
		"platform admin":              refused,
		"holder's name, not a member": refused,
	}

	sA := w.studies["A"]
	inst := "/dicomweb/studies/" + sA.study + "/series/" + sA.series + "/instances/" + sA.sop
	sX, sN := w.studies["X"], w.studies["N"]
	type endpoint struct {
		class, method, path, accept, body string
	}
	endpoints := []endpoint{
		{class: search, method: "GET", path: "/dicomweb/studies"},
		{class: search, method: "GET", path: "/dicomweb/series"},
		{class: search, method: "GET", path: "/dicomweb/instances"},
		{class: searchA, method: "GET", path: "/dicomweb/studies/" + sA.study + "/series"},
		{class: searchA, method: "GET", path: "/dicomweb/studies/" + sA.study + "/instances"},
		{class: searchA, method: "GET", path: "/dicomweb/studies/" + sA.study + "/series/" + sA.series + "/instances"},
		{class: downloadA, method: "GET", path: "/dicomweb/studies/" + sA.study},
		{class: downloadA, method: "GET", path: "/dicomweb/studies/" + sA.study + "/series/" + sA.series},
		{class: downloadA, method: "GET", path: inst},
		{class: viewA, method: "GET", path: "/dicomweb/studies/" + sA.study + "/metadata"},
		{class: viewA, method: "GET", path: "/dicomweb/studies/" + sA.study + "/series/" + sA.series + "/metadata"},
		{class: viewA, method: "GET", path: inst + "/metadata"},
		{class: viewA, method: "GET", path: inst + "/bulkdata/7FE00010"},
		{class: viewA, method: "GET", path: inst + "/frames/1", accept: "multipart/related; type=\"application/octet-stream\"; transfer-syntax=*"},
		{class: viewA, method: "GET", path: inst + "/rendered", accept: "image/png"},
		{class: viewA, method: "GET", path: inst + "/frames/1/rendered", accept: "image/png"},
		{class: viewA, method: "GET", path: inst + "/thumbnail", accept: "image/png"},
		{class: viewA, method: "GET", path: inst + "/frames/1/thumbnail", accept: "image/png"},
		{class: viewA, method: "GET", path: "/dicomweb/studies/" + sA.study + "/series/" + sA.series + "/thumbnail", accept: "image/png"},
		{class: viewA, method: "GET", path: "/dicomweb/studies/" + sA.study + "/thumbnail", accept: "image/png"},
		{class: viewX, method: "GET", path: "/dicomweb/studies/" + sX.study + "/series/" + sX.series + "/metadata"},
		{class: viewX, method: "GET", path: "/dicomweb/studies/" + sX.study + "/series/" + sX.series + "/instances/" + sX.sop + "/rendered", accept: "image/png"},
		{class: viewN, method: "GET", path: "/dicomweb/studies/" + sN.study + "/series/" + sN.series + "/metadata"},
		{class: viewN, method: "GET", path: "/dicomweb/studies/" + sN.study + "/thumbnail", accept: "image/png"},
		{class: stow, method: "POST", path: "/dicomweb/studies", body: "x"},
		{class: api, method: "GET", path: "/api/v1/datasets"},
		{class: api, method: "GET", path: "/api/v1/datasets/" + A + "/verify"},
		{class: api, method: "POST", path: "/api/v1/datasets", body: "{}"},
		{class: api, method: "POST", path: "/api/v1/datasets/" + A + "/frobnicate"},
		{class: api, method: "GET", path: "/api/v1/datasets/" + A + "/versions"},
		{class: api, method: "PUT", path: "/api/v1/datasets/" + A + "/studies", body: `{"add": []}`},
		{class: page, method: "GET", path: "/datasets"},
		{class: page, method: "GET", path: "/archive"},
		{class: page, method: "GET", path: "/audit"},
	}
	// What a data holder gets from the dataset API (the requests change nothing).
	apiOK := map[string]int{"GET /api/v1/datasets": 200, "GET /api/v1/datasets/" + A + "/verify": 200,
		"POST /api/v1/datasets": 400, "POST /api/v1/datasets/" + A + "/frobnicate": 409,
		"GET /api/v1/datasets/" + A + "/versions": 200, "PUT /api/v1/datasets/" + A + "/studies": 200}
	letters := map[string]string{}
	for k, s := range w.studies {
		letters[s.study] = k
	}

	// check compares an answer with the expectation; a search also lists the studies seen.
	check := func(t *testing.T, e endpoint, exp string, status int, body []byte) {
		t.Helper()
		wantStatus, wantSeen, isSearch := strings.Cut(exp, " ")
		if exp == "ok" {
			wantStatus = fmt.Sprint(apiOK[e.method+" "+e.path])
		}
		if fmt.Sprint(status) != wantStatus {
			t.Errorf("%s %s: status %d, want %s: %.300s", e.method, e.path, status, wantStatus, body)
			return
		}
		if status >= 400 {
			var msg struct{ Error string }
			if json.Unmarshal(body, &msg) != nil || msg.Error == "" {
				t.Errorf("%s %s: %d without an error message: %.200s", e.method, e.path, status, body)
			}
		}
		if !isSearch || status != 200 {
			return
		}
		var out []map[string]struct{ Value []any }
		if err := json.Unmarshal(body, &out); err != nil {
			t.Errorf("%s %s: %v", e.method, e.path, err)
			return
		}
		var seen []string
		for _, o := range out {
			if k := letters[fmt.Sprint(o["0020000D"].Value[0])]; !slices.Contains(seen, k) {
				seen = append(seen, k)
			}
		}
		slices.Sort(seen)
		if got := strings.Join(seen, ""); got != wantSeen {
			t.Errorf("%s %s: saw studies %q, want %q", e.method, e.path, got, wantSeen)
		}
	}
	// visaPath reports whether a caller's DICOMweb requests are decided on visas (and so
	// logged), rather than refused before (401) or let through as the node's own staff.
	visaPath := func(status int, exp string) bool {
		return status != 401 && exp != "" && !strings.HasPrefix(exp, "200 ABNX")
	}
	// logs is how many audit entries a decision of c about e makes.
	logs := func(c caller, e endpoint, status int) uint64 {
		if c.searchLogs > 0 && status == 200 && (e.class == search || e.class == searchA) {
			return uint64(c.searchLogs)
		}
		return 1
	}

	for _, c := range callers {
		if c.noDirect {
			continue
		}
		t.Run("direct/"+c.name, func(t *testing.T) {
			for _, e := range endpoints {
				exp := want[c.name][e.class]
				var body io.Reader
				if e.body != "" {
					body = strings.NewReader(e.body)
				}
				req, _ := http.NewRequest(e.method, w.srv.URL+e.path, body)
				if e.accept != "" {
					req.Header.Set("Accept", e.accept)
				}
				if strings.HasPrefix(c.direct, "cookie:") {
					req.AddCookie(w.cookies[strings.TrimPrefix(c.direct, "cookie:")])
				} else if c.direct != "" {
					req.Header.Set("Authorization", c.direct)
				}
				size := w.n.audit.Size()
				resp, err := noRedirect.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				check(t, e, exp, resp.StatusCode, b)
				if c.reason != "" && e.class == cmp.Or(c.reasonClass, viewA) && !strings.Contains(string(b), c.reason) {
					t.Errorf("%s %s: refusal %s does not say %q", e.method, e.path, b, c.reason)
				}
				logged := w.n.audit.Size() - size
				if strings.HasPrefix(e.path, "/dicomweb/") && c.name != "anonymous" && !strings.HasPrefix(c.name, "data holder") && !strings.HasPrefix(c.name, "node admin") &&
					visaPath(resp.StatusCode, exp) && logged != logs(c, e, resp.StatusCode) {
					t.Errorf("%s %s: %d audit entries, want %d", e.method, e.path, logged, logs(c, e, resp.StatusCode))
				}
			}
		})
	}
	for _, c := range callers {
		if c.noRelay {
			continue
		}
		t.Run("relayed/"+c.name, func(t *testing.T) {
			for _, e := range endpoints {
				if !strings.HasPrefix(e.path, "/dicomweb/") || e.method != "GET" {
					continue // only DICOMweb reads are relayed
				}
				exp := want[c.name][e.class]
				if r, ok := wantRelay[c.name]; ok {
					exp = r[e.class]
				}
				path, query, _ := strings.Cut(strings.TrimPrefix(e.path, DICOMwebPrefix), "?")
				req, err := relayRequest(ctx, fed.RelayRequest{ID: "r1234567", Method: "GET", Path: path, Query: query, Accept: e.accept,
					User: c.user, Role: c.role, Member: c.member, Visas: c.visas, BaseURL: "https://hub.example.org/nodes/oslo/dicomweb"})
				if err != nil {
					t.Fatal(err)
				}
				size := w.n.audit.Size()
				rec := httptest.NewRecorder()
				w.n.relayMux.ServeHTTP(rec, req)
				check(t, e, exp, rec.Code, rec.Body.Bytes())
				if c.reason != "" && e.class == cmp.Or(c.reasonClass, viewA) && !strings.Contains(rec.Body.String(), c.reason) {
					t.Errorf("%s %s: refusal %s does not say %q", e.method, e.path, rec.Body.String(), c.reason)
				}
				logged := w.n.audit.Size() - size
				staff := c.member
				if !staff && logged != logs(c, e, rec.Code) {
					t.Errorf("%s %s: %d audit entries, want %d", e.method, e.path, logged, logs(c, e, rec.Code))
				}
				if staff && logged != 0 {
					t.Errorf("%s %s by the node's own %s: %d audit entries", e.method, e.path, c.user, logged)
				}
			}
		})
	}
}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// TestDatasetVersionsThroughAPI: a data holder adds a study to a published dataset
// through the API; the dataset gets version 2 (version 1 kept), and a visa for the
// dataset now opens the added study too.
func TestDatasetVersionsThroughAPI(t *testing.T) {
	w := newAccessWorld(t)
	A := w.ds["A"]
	good := w.issue(t, "alice", A, visa.AccessView)
	do := func(method, path, auth, body string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, w.srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	nMeta := "/dicomweb/studies/" + w.studies["N"].study + "/metadata"
	if st, b := do("GET", nMeta, good.Token, ""); st != 403 {
		t.Fatalf("study N before it joined A: %d %s", st, b)
	}
	st, b := do("PUT", "/api/v1/datasets/"+A+"/studies", w.tokens["holder"], `{"add": ["`+w.studies["N"].study+`"]}`)
	var rev struct {
		Dataset catalogue.Dataset
		Version bool `json:"new_version"`
		Added   []string
	}
	if st != 200 || json.Unmarshal(b, &rev) != nil || !rev.Version || rev.Dataset.Version != 2 || len(rev.Added) != 1 || rev.Dataset.Studies != 2 {
		t.Fatalf("adding a study: %d %s", st, b)
	}
	st, b = do("GET", "/api/v1/datasets/"+A+"/versions", w.tokens["holder"], "")
	var vs []struct {
		Version int
		Root    string
		Actor   string
	}
	if st != 200 || json.Unmarshal(b, &vs) != nil || len(vs) != 2 || vs[1].Root != rev.Dataset.ContentHash || vs[1].Actor != "holder" || vs[0].Root == vs[1].Root {
		t.Fatalf("versions: %d %s", st, b)
	}
	if st, b := do("GET", nMeta, good.Token, ""); st != 200 {
		t.Fatalf("study N after it joined A: %d %s", st, b)
	}
	// Removing every study is refused; removing N again makes version 3.
	if st, b := do("PUT", "/api/v1/datasets/"+A+"/studies", w.tokens["holder"], `{"studies": []}`); st != 400 {
		t.Fatalf("no studies: %d %s", st, b)
	}
	if st, b := do("PUT", "/api/v1/datasets/"+A+"/studies", w.tokens["holder"], `{"remove": ["`+w.studies["N"].study+`"]}`); st != 200 || !strings.Contains(string(b), `"version": 3,`) {
		t.Fatalf("removing N: %d %s", st, b)
	}
	if st, b := do("GET", nMeta, good.Token, ""); st != 403 {
		t.Fatalf("study N after it left A: %d %s", st, b)
	}
	if st, b := do("PUT", "/api/v1/datasets/"+A+"/studies", w.tokens["rita"], `{"add": []}`); st != 403 {
		t.Fatalf("a researcher changing a dataset: %d %s", st, b)
	}
}
