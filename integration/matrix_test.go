package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cancerimage/cie/internal/hub"
	"github.com/cancerimage/cie/internal/node/dicomweb"
	"github.com/cancerimage/cie/internal/visa"
)

// The callers of the matrix, its columns, in this order.
const (
	cAnon    = iota // no credentials
	cNoVisa         // a researcher who holds no visa
	cOtherDS        // a researcher with a download visa for D2 only (another dataset than D1)
	cExpired        // a researcher whose download visa for D1 has expired
	cRevoked        // a researcher whose download visa for D1 was revoked
	cForged         // a passport for D1 signed by a key the hub never published
	cHolderB        // the data holder of node beta (another node)
	cHolderA        // the data holder of node alpha
	cAdminA         // the node admin of node alpha
	cRoot           // a platform admin
	nCallers
)

var callerNames = [nCallers]string{"anonymous", "researcher without visa", "visa for another dataset", "expired visa",
	"revoked visa", "forged visa", "data holder of another node", "data holder of alpha", "node admin of alpha", "platform admin"}

// login is the status recorded for a 303 See Other to the login page: a page's answer
// to a visitor without a session.
const login = 1303

// matrixCaller is how one column authenticates: at the hub a bearer token (API, relay)
// and a session (pages, with its CSRF token); at node alpha, reached directly, a bearer
// token (the node's own API token, or a passport) and a session.
type matrixCaller struct {
	name                            string // for the files it uploads
	hubToken, hubCookie, hubCSRF    string
	nodeToken, nodeCookie, nodeCSRF string
	// studies are the studies of alpha a QIDO answer may list for the caller (nil: all).
	studies []string
}

// matrixRow is one request, sent by every caller; want is the status per caller.
type matrixRow struct {
	route  string // the hub's route pattern it covers, or "node" for node alpha's
	method string
	url    string
	accept string
	body   func(c *matrixCaller) (io.Reader, string) // body and content type; nil: none
	want   [nCallers]int
	qido   bool // a QIDO answer: every study listed must be one the caller may see
	all    bool // with qido: and every study the caller may see is listed
	last   bool // sent after every other row (logout ends the caller's session)
}

// TestAuthorizationMatrixAcross is the authorization matrix of the hub and a node as
// separate processes: every route of the hub (the test fails for a route the table does
// not list) and node alpha's routes, reached directly, × every kind of caller, each cell
// the expected status; QIDO answers list only the caller's granted studies.
func TestAuthorizationMatrixAcross(t *testing.T) {
	const visaTTL = 3 * time.Second // of the expired visa, the last one issued
	oidc := "oidc:\n  embedded: true\n"
	a := startArchiveHub(t, oidc, "visa_leeway: 1s\n")
	b := a.addNode(t, "beta", "bob", "")
	tok := hubUsers(t, a.hubYAML, []hubUser{
		{"novisa", "researcher", ""}, {"otherds", "researcher", ""}, {"expired", "researcher", ""}, {"revoked", "researcher", ""},
		{"bob", "data_holder", "beta"}, {"holder", "data_holder", "alpha"}, {"nadia", "node_admin", "alpha"}, {"root", "platform_admin", ""},
	})
	cie(t, false, "admin", "user", "add", "nadia", "--role", "node_admin", "--password", "correct horse battery", "--node-config", a.cfg)
	nadiaTok, _ := run(t, false, "admin", "token", "add", "nadia", "--node-config", a.cfg)
	waitFor(t, 30*time.Second, "alpha and beta online", func() bool {
		st := nodeStates(t, a.hubURL, tok["root"])
		return st["alpha"].State == "online" && st["beta"].State == "online"
	})

	// D1 (studies with CT) and D2 (the others) at alpha, D3 at beta.
	a.storeSynth(t, 5, 4)
	b.storeSynth(t, 6, 2)
	inD1, inD2 := a.splitCT(t)
	var inD3 []string
	for _, st := range b.qido(t, "/studies") {
		inD3 = append(inD3, st["0020000D"])
	}
	d1, d2, d3 := a.publish(t, "Lung CT", inD1), a.publish(t, "Other imaging", inD2), b.publish(t, "Beta imaging", inD3)
	waitFor(t, 15*time.Second, "the datasets in the catalogue", func() bool {
		for _, d := range []string{d1, d2, d3} {
			if r, _ := fetch(t, a.hubURL+"/api/v1/catalogue/"+d, "", "application/json"); r.StatusCode != 200 {
				return false
			}
		}
		return true
	})
	study1, study2 := inD1[0], inD2[0]
	se1 := a.qido(t, "/studies/"+study1+"/series")[0]["0020000E"]
	sop1 := a.qido(t, "/studies/"+study1+"/series/"+se1+"/instances")[0]["00080018"]
	inst1 := "/studies/" + study1 + "/series/" + se1 + "/instances/" + sop1

	// Grants: otherds downloads D2; revoked downloaded D1 until its visa was revoked (its
	// passport, taken before, is presented to alpha directly); novisa abandoned a request.
	passport := func(user string) string {
		t.Helper()
		resp, p := fetch(t, a.hubURL+"/api/v1/passport?format=jwt", tok[user], "")
		if resp.StatusCode != 200 || strings.Count(string(p), ".") != 2 {
			t.Fatalf("passport of %s: %d %s", user, resp.StatusCode, p)
		}
		return string(p)
	}
	reqD2 := grantAccess(t, a.hubURL, tok["otherds"], tok["root"], tok["holder"], "alpha", d2, "download")
	grantAccess(t, a.hubURL, tok["revoked"], tok["root"], tok["holder"], "alpha", d1, "download")
	revokedPassport := passport("revoked")
	var visas struct {
		Visas []struct{ JTI, User string } `json:"visas"`
	}
	if code, err := getJSON(context.Background(), a.hubURL+"/api/v1/visas", tok["holder"], &visas); err != nil || code != 200 {
		t.Fatalf("visas: %d %v", code, err)
	}
	var revokedJTI string
	for _, v := range visas.Visas {
		if v.User == "revoked" {
			revokedJTI = v.JTI
		}
	}
	if st, m := postJSON(t, a.hubURL+"/api/v1/visas/"+revokedJTI+"/revoke", tok["holder"], map[string]string{"reason": "matrix"}); st != 200 {
		t.Fatalf("revoke: %d %v", st, m)
	}
	waitFor(t, 15*time.Second, "alpha refuses the revoked passport", func() bool {
		r, _ := fetch(t, a.nodeURL+"/dicomweb/studies/"+study1+"/metadata", revokedPassport, "")
		return r.StatusCode == 403
	})
	st, m := postJSON(t, a.hubURL+"/api/v1/requests", tok["novisa"], map[string]any{"title": "Abandoned", "description": "D",
		"purpose": "P", "model": "view", "datasets": []string{d1}})
	if st != 201 {
		t.Fatalf("request: %d %v", st, m)
	}
	reqAbandoned := m["id"].(string)
	if st, m := postJSON(t, a.hubURL+"/api/v1/requests/"+reqAbandoned+"/abandon", tok["novisa"], nil); st != 200 {
		t.Fatalf("abandon: %d %v", st, m)
	}
	if st, _ := uploadAttachment(t, a.hubURL, tok["otherds"], reqD2, "ethics.txt"); st != 201 {
		t.Fatalf("attachment: %d", st)
	}

	// The expired visa: the hub, restarted with a short visa_ttl, issues it last.
	a.restartHub(t, oidc+fmt.Sprintf("access:\n  visa_ttl: %s\n", visaTTL), tok["root"], "alpha", "beta")
	grantAccess(t, a.hubURL, tok["expired"], tok["root"], tok["holder"], "alpha", d1, "download")
	expiredAt := time.Now().Add(visaTTL)
	expiredPassport := passport("expired")

	// The forged passport: the hub's issuer and claims, a key of its own.
	forger, err := visa.OpenIssuer(visa.IssuerOptions{Dir: t.TempDir(), Issuer: a.hubURL})
	if err != nil {
		t.Fatal(err)
	}
	fv, err := forger.Issue(visa.Grant{Subject: "novisa", Dataset: d1, Access: visa.AccessDownload, Expires: time.Now().Add(time.Hour), RequestID: reqAbandoned})
	if err != nil {
		t.Fatal(err)
	}
	forged, err := forger.IssuePassport("novisa", []string{fv.Token}, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}

	// The callers: sessions at the hub (through the embedded OpenID provider) and at
	// alpha (its password form), made meanwhile.
	var callers [nCallers]*matrixCaller
	for i := range callers {
		callers[i] = &matrixCaller{name: fmt.Sprintf("caller%d", i), studies: []string{}}
	}
	hubUser := map[int]string{cNoVisa: "novisa", cOtherDS: "otherds", cExpired: "expired", cRevoked: "revoked",
		cHolderB: "bob", cHolderA: "holder", cAdminA: "nadia", cRoot: "root"}
	var wg sync.WaitGroup
	for i, u := range hubUser {
		c := callers[i]
		c.hubToken = tok[u]
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.hubCookie, c.hubCSRF = hubSession(t, a.hubURL, u)
		}()
	}
	for _, i := range []int{cHolderA, cAdminA} {
		c := callers[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.nodeCookie, c.nodeCSRF = nodeSession(t, a.nodeURL, hubUser[i])
		}()
	}
	wg.Wait()
	callers[cNoVisa].nodeToken = passport("novisa")
	callers[cOtherDS].nodeToken = passport("otherds")
	callers[cExpired].nodeToken = expiredPassport
	callers[cRevoked].nodeToken = revokedPassport
	callers[cForged].hubToken, callers[cForged].nodeToken = forged, forged
	callers[cHolderB].nodeToken = b.token
	callers[cHolderA].nodeToken = a.token
	callers[cAdminA].nodeToken = strings.TrimSpace(nadiaTok)
	callers[cRoot].nodeToken = tok["root"]
	callers[cOtherDS].studies = inD2
	callers[cHolderA].studies, callers[cAdminA].studies = nil, nil
	spareToken := spareTokenID(t, a.hubURL, callers[cRoot])

	rows := hubRows(a.hubURL, d1, d2, d3, study1, study2, inD3[0], se1, inst1, reqD2, reqAbandoned, revokedJTI, spareToken)
	rows = append(rows, nodeRows(a.nodeURL, d1, inD1, study1, study2, se1, inst1)...)

	// Every route of the hub is in the table.
	cfg := hub.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.OIDC.Embedded = true
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	routes, err := hub.Routes(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, r := range rows {
		listed[r.route] = true
	}
	for _, r := range routes {
		if !listed[r] {
			t.Errorf("the hub serves %q, which the matrix does not list", r)
		}
		delete(listed, r)
	}
	delete(listed, "node")
	for r := range listed {
		t.Errorf("the matrix lists %q, which the hub does not serve", r)
	}

	// The expired visa has expired (with the node's leeway of 1 s) by now.
	time.Sleep(time.Until(expiredAt.Add(1500 * time.Millisecond)))
	start := time.Now()
	type result struct {
		row, caller, status int
		body                string
	}
	jobs := make(chan [2]int)
	results := make(chan result)
	client := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for range 16 {
		go func() {
			for j := range jobs {
				r, c := rows[j[0]], callers[j[1]]
				st, body := r.send(client, c, strings.HasPrefix(r.url, a.hubURL))
				if st == 200 && r.qido && c.studies != nil {
					if bad := outside(body, c.studies); bad != "" {
						body = "lists study " + bad + ", outside the caller's grants"
						st = -st
					} else if missing := missing(body, c.studies); r.all && missing != "" {
						body = "does not list study " + missing + " of the caller's grants"
						st = -st
					}
				}
				results <- result{j[0], j[1], st, body}
			}
		}()
	}
	// Rows marked last go once every other row has been answered: logging out ends the
	// session the other rows use.
	var pending []result
	send := func(last bool) int {
		n := 0
		for i := range rows {
			if rows[i].last == last {
				n += nCallers
			}
		}
		go func() {
			for i := range rows {
				if rows[i].last != last {
					continue
				}
				for c := range nCallers {
					jobs <- [2]int{i, c}
				}
			}
		}()
		for range n {
			pending = append(pending, <-results)
		}
		return n
	}
	send(false)
	send(true)
	close(jobs)
	for _, res := range pending {
		r := rows[res.row]
		if res.status != r.want[res.caller] {
			t.Errorf("%s %s as %s: %d, want %d: %.200s", r.method, strings.TrimPrefix(strings.TrimPrefix(r.url, a.hubURL), a.nodeURL),
				callerNames[res.caller], res.status, r.want[res.caller], brief(res.body))
		}
	}
	t.Logf("%d rows × %d callers in %s", len(rows), nCallers, time.Since(start).Round(time.Millisecond))
}

// send sends the row's request as c, to the hub or to node alpha, and returns the status
// (login for a redirect to the login page) and the body.
func (r matrixRow) send(client *http.Client, c *matrixCaller, atHub bool) (int, string) {
	token, cookie, csrf := c.nodeToken, c.nodeCookie, c.nodeCSRF
	if atHub {
		token, cookie, csrf = c.hubToken, c.hubCookie, c.hubCSRF
	}
	var body io.Reader
	var ctype string
	if r.body != nil {
		body, ctype = r.body(&matrixCaller{name: c.name, hubCSRF: csrf})
	}
	req, err := http.NewRequest(r.method, r.url, body)
	if err != nil {
		return 0, err.Error()
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if r.accept != "" {
		req.Header.Set("Accept", r.accept)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusSeeOther && strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		return login, string(b)
	}
	return resp.StatusCode, string(b)
}

// brief is the text of an answer, for a message: a page's main part without its tags.
func brief(body string) string {
	if i := strings.Index(body, "<main"); i >= 0 {
		body = body[i:]
	}
	body = regexp.MustCompile(`<[^>]*>`).ReplaceAllString(body, " ")
	return strings.Join(strings.Fields(html.UnescapeString(body)), " ")
}

// outside returns a study a QIDO answer lists that is not in allowed, or "".
func outside(body string, allowed []string) string {
	var list []map[string]struct {
		Value []any `json:"Value"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		return "(not a QIDO answer)"
	}
	for _, m := range list {
		v := m["0020000D"].Value
		if len(v) == 0 {
			return "(no Study Instance UID)"
		}
		if s, _ := v[0].(string); !slices.Contains(allowed, s) {
			return s
		}
	}
	return ""
}

// missing returns a study of want a QIDO answer does not list, or "".
func missing(body string, want []string) string {
	var list []map[string]struct {
		Value []any `json:"Value"`
	}
	_ = json.Unmarshal([]byte(body), &list)
	for _, s := range want {
		if !slices.ContainsFunc(list, func(m map[string]struct {
			Value []any `json:"Value"`
		}) bool {
			return len(m["0020000D"].Value) > 0 && m["0020000D"].Value[0] == s
		}) {
			return s
		}
	}
	return ""
}

// w reads a row of statuses, one per caller in the order of the columns.
func w(s string) [nCallers]int {
	var out [nCallers]int
	f := strings.Fields(s)
	if len(f) != int(nCallers) {
		panic("want " + s + ": not one status per caller")
	}
	for i, x := range f {
		if x == "login" {
			out[i] = login
			continue
		}
		fmt.Sscan(x, &out[i])
	}
	return out
}

func jsonBody(v any) func(*matrixCaller) (io.Reader, string) {
	return func(*matrixCaller) (io.Reader, string) {
		b, _ := json.Marshal(v)
		return bytes.NewReader(b), "application/json"
	}
}

// form is a page's form with the caller's CSRF token.
func form(v url.Values) func(*matrixCaller) (io.Reader, string) {
	return func(c *matrixCaller) (io.Reader, string) {
		f := url.Values{"csrf": {c.hubCSRF}}
		for k, x := range v {
			f[k] = x
		}
		return strings.NewReader(f.Encode()), "application/x-www-form-urlencoded"
	}
}

// upload is a multipart form with a file (field files) and the caller's CSRF token.
func upload(field string) func(*matrixCaller) (io.Reader, string) {
	return func(c *matrixCaller) (io.Reader, string) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		mw.WriteField("csrf", c.hubCSRF)
		fw, _ := mw.CreateFormFile(field, c.name+"-"+field+".txt")
		fw.Write([]byte("matrix"))
		mw.Close()
		return &buf, mw.FormDataContentType()
	}
}

// hubRows is the hub's part of the matrix.
func hubRows(hubURL, d1, d2, d3, study1, study2, study3, series1, inst1, reqD2, reqAbandoned, revokedJTI, spareToken string) []matrixRow {
	const (
		public   = "200 200 200 200 200 200 200 200 200 200"
		api      = "401 200 200 200 200 401 200 200 200 200"
		page     = "login 200 200 200 200 login 200 200 200 200"
		noVisaD1 = "401 403 403 403 403 401 403 200 200 403" // alpha's data (its holder and admin are alpha's users)
		zip      = dicomweb.ZipType
		dcmJSON  = "application/dicom+json"
	)
	row := func(route, method, path string, want string) matrixRow {
		return matrixRow{route: route, method: method, url: hubURL + path, want: w(want)}
	}
	with := func(r matrixRow, f func(*matrixRow)) matrixRow { f(&r); return r }
	req := "/api/v1/requests/" + reqD2
	return []matrixRow{
		row("GET /healthz", "GET", "/healthz", public),
		row("GET /readyz", "GET", "/readyz", public),
		row("GET /metrics", "GET", "/metrics", public),
		row("GET /static/", "GET", "/static/cie.css", public),
		row("GET /{$}", "GET", "/", "303 303 303 303 303 303 303 303 303 303"),
		row("GET /login", "GET", "/login", "302 302 302 302 302 302 302 302 302 302"),
		row("GET /login/oidc", "GET", "/login/oidc", "302 302 302 302 302 302 302 302 302 302"),
		row("GET /login/oidc/callback", "GET", "/login/oidc/callback", "401 401 401 401 401 401 401 401 401 401"),
		with(row("POST /logout", "POST", "/logout", "login 303 303 303 303 login 303 303 303 303"), func(r *matrixRow) { r.body = form(nil); r.last = true }),
		row("/oidc/", "GET", "/oidc/.well-known/openid-configuration", public),
		row("/oidc/", "GET", "/oidc/keys", public),
		row("GET /tokens", "GET", "/tokens", page),
		with(row("POST /tokens", "POST", "/tokens", page), func(r *matrixRow) { r.body = form(url.Values{"label": {"matrix"}}) }),
		with(row("POST /tokens/{id}/revoke", "POST", "/tokens/"+spareToken+"/revoke", "login 404 404 404 404 login 404 404 404 303"),
			func(r *matrixRow) { r.body = form(nil) }),
		row("GET /nodes", "GET", "/nodes", public),
		row("GET /nodes/table", "GET", "/nodes/table", public),
		row("GET /audit", "GET", "/audit", "login 403 403 403 403 login 403 403 403 200"),
		row("GET /catalogue", "GET", "/catalogue", public),
		row("GET /catalogue/{id}", "GET", "/catalogue/"+d1, public),
		row("GET /basket", "GET", "/basket", page),
		with(row("POST /basket", "POST", "/basket", "login 303 303 303 303 login 303 303 303 303"),
			func(r *matrixRow) { r.body = form(url.Values{"dataset": {d3}}) }),
		with(row("POST /basket/remove", "POST", "/basket/remove", "login 303 303 303 303 login 303 303 303 303"),
			func(r *matrixRow) { r.body = form(url.Values{"dataset": {d3}}) }),
		row("GET /requests", "GET", "/requests", page),
		with(row("POST /requests", "POST", "/requests", "login 400 400 400 400 login 400 400 400 400"), func(r *matrixRow) { r.body = form(nil) }),
		row("GET /requests/{id}", "GET", "/requests/"+reqD2, "login 404 200 404 404 login 404 200 200 200"),
		with(row("POST /requests/{id}/parts", "POST", "/requests/"+reqD2+"/parts", "login 403 403 403 403 login 403 409 409 403"),
			func(r *matrixRow) {
				r.body = form(url.Values{"node": {"alpha"}, "dataset": {d2}, "state": {"resource_made_available"}})
			}),
		with(row("POST /requests/{id}/messages", "POST", "/requests/"+reqD2+"/messages", "login 404 303 404 404 login 404 303 303 303"),
			func(r *matrixRow) { r.body = form(url.Values{"text": {"matrix"}}) }),
		with(row("POST /requests/{id}/abandon", "POST", "/requests/"+reqAbandoned+"/abandon", "login 409 404 404 404 login 404 403 403 403"),
			func(r *matrixRow) { r.body = form(nil) }),
		with(row("POST /requests/{id}/review", "POST", "/requests/"+reqD2+"/review", "login 403 403 403 403 login 403 403 403 409"),
			func(r *matrixRow) { r.body = form(url.Values{"approve": {"true"}}) }),
		with(row("POST /requests/{id}/attachments", "POST", "/requests/"+reqD2+"/attachments", "login 404 303 404 404 login 404 303 303 303"),
			func(r *matrixRow) { r.body = upload("files") }),
		row("GET /notices", "GET", "/notices", page),
		row("GET /passport", "GET", "/passport", page),
		row("GET /images/{dataset}", "GET", "/images/"+d1, "login 403 403 403 403 login 403 403 403 403"),
		row("GET /images/{dataset}", "GET", "/images/"+d2, "login 403 200 403 403 login 403 403 403 403"),
		with(row("POST /visas/{jti}/revoke", "POST", "/visas/"+revokedJTI+"/revoke", "login 404 404 404 403 login 404 409 409 409"),
			func(r *matrixRow) { r.body = form(url.Values{"reason": {"matrix"}}) }),
		row("GET /search", "GET", "/search", "303 303 303 303 303 303 303 303 303 303"),
		row("GET /explorer", "GET", "/explorer", page),
		row("GET /atlas", "GET", "/atlas", public),
		row("GET /api/v1/atlas", "GET", "/api/v1/atlas", public),
		with(row("POST /api/v1/search", "POST", "/api/v1/search", api), func(r *matrixRow) {
			r.body = jsonBody(map[string]any{"ast": map[string]any{"operand": "AND", "children": []any{
				map[string]any{"key": "RID10311", "type": "EQUALS", "value": "RID10312"}}}})
		}),
		row("GET /api/v1/search/{id}", "GET", "/api/v1/search/0123456789abcdef", "401 404 404 404 404 401 404 404 404 404"),
		with(row("POST /api/v1/beacon/individuals", "POST", "/api/v1/beacon/individuals", api), func(r *matrixRow) {
			r.body = jsonBody(map[string]any{"meta": map[string]any{"apiVersion": "v2.0"},
				"query": map[string]any{"filters": []any{map[string]any{"id": "RADLEX:RID10312"}}, "requestedGranularity": "count"}})
		}),
		row("GET /jobs", "GET", "/jobs", public),

		// The relay: alpha decides, on the visas the hub attaches.
		with(row("GET /nodes/{node}/dicomweb/{path...}", "GET", "/nodes/alpha/dicomweb/studies", "401 403 200 403 403 401 403 200 200 403"),
			func(r *matrixRow) { r.qido, r.all, r.accept = true, true, dcmJSON }),
		with(row("GET /nodes/{node}/dicomweb/{path...}", "GET", "/nodes/alpha/dicomweb/series?StudyInstanceUID="+study1, "401 403 200 403 403 401 403 200 200 403"),
			func(r *matrixRow) { r.qido, r.accept = true, dcmJSON }),
		row("GET /nodes/{node}/dicomweb/{path...}", "GET", "/nodes/alpha/dicomweb/studies/"+study1+"/metadata", noVisaD1),
		row("GET /nodes/{node}/dicomweb/{path...}", "GET", "/nodes/alpha/dicomweb/studies/"+study2+"/metadata", "401 403 200 403 403 401 403 200 200 403"),
		with(row("GET /nodes/{node}/dicomweb/{path...}", "GET", "/nodes/alpha/dicomweb/studies/"+study1, noVisaD1), func(r *matrixRow) { r.accept = zip }),
		with(row("GET /nodes/{node}/dicomweb/{path...}", "GET", "/nodes/alpha/dicomweb/studies/"+study2, "401 403 200 403 403 401 403 200 200 403"),
			func(r *matrixRow) { r.accept = zip }),
		with(row("GET /nodes/{node}/dicomweb/{path...}", "GET", "/nodes/alpha/dicomweb"+inst1+"/frames/1", noVisaD1),
			func(r *matrixRow) { r.accept = `multipart/related; type="application/octet-stream"; transfer-syntax=*` }),
		row("GET /nodes/{node}/dicomweb/{path...}", "GET", "/nodes/alpha/dicomweb"+inst1+"/rendered", noVisaD1),
		row("GET /nodes/{node}/dicomweb/{path...}", "GET", "/nodes/beta/dicomweb/studies/"+study3+"/metadata", "401 403 403 403 403 401 200 403 403 403"),
		row("GET /nodes/{node}/dicomweb/{path...}", "GET", "/nodes/nosuch/dicomweb/studies", "401 404 404 404 404 401 404 404 404 404"),
		row("GET /nodes/{node}/dicomweb/{path...}", "POST", "/nodes/alpha/dicomweb/studies", "405 405 405 405 405 405 405 405 405 405"),
		row("/viewer/", "GET", "/viewer/?dicomweb="+url.QueryEscape("/nodes/alpha/dicomweb")+"&study="+study1+"&series="+series1, public),
		row("GET /.well-known/jwks.json", "GET", "/.well-known/jwks.json", public),
		with(row("/fdp", "GET", "/fdp", public), func(r *matrixRow) { r.accept = "text/turtle" }),
		with(row("/fdp/", "GET", "/fdp/dataset/"+d1, public), func(r *matrixRow) { r.accept = "text/turtle" }),

		// The API.
		row("GET /api/v1/openapi.json", "GET", "/api/v1/openapi.json", public),
		row("GET /api/v1/me", "GET", "/api/v1/me", api),
		row("GET /api/v1/nodes", "GET", "/api/v1/nodes", api),
		row("GET /api/v1/nodes/{name}", "GET", "/api/v1/nodes/alpha", api),
		row("GET /api/v1/nodes/{name}/witnessed", "GET", "/api/v1/nodes/alpha/witnessed", api),
		row("GET /api/v1/audit/checkpoint", "GET", "/api/v1/audit/checkpoint", api),
		row("GET /api/v1/catalogue", "GET", "/api/v1/catalogue", public),
		row("GET /api/v1/catalogue/{id}", "GET", "/api/v1/catalogue/"+d1, public),
		row("GET /api/v1/images/{dataset}", "GET", "/api/v1/images/"+d1, "401 403 403 403 403 401 403 403 403 403"),
		row("GET /api/v1/images/{dataset}", "GET", "/api/v1/images/"+d2, "401 403 200 403 403 401 403 403 403 403"),
		with(row("POST /api/v1/requests", "POST", "/api/v1/requests", "401 201 201 201 201 401 201 201 201 201"), func(r *matrixRow) {
			r.body = jsonBody(map[string]any{"title": "Matrix", "description": "D", "purpose": "P", "model": "view", "datasets": []string{d3}})
		}),
		row("GET /api/v1/requests", "GET", "/api/v1/requests", api),
		row("GET /api/v1/requests/{id}", "GET", req, "401 404 200 404 404 401 404 200 200 200"),
		with(row("POST /api/v1/requests/{id}/parts/{node}/{dataset}", "POST", req+"/parts/alpha/"+d2, "401 403 403 403 403 401 403 409 409 403"),
			func(r *matrixRow) { r.body = jsonBody(map[string]string{"state": "resource_made_available"}) }),
		with(row("POST /api/v1/requests/{id}/messages", "POST", req+"/messages", "401 404 201 404 404 401 404 201 201 201"),
			func(r *matrixRow) { r.body = jsonBody(map[string]string{"text": "matrix"}) }),
		row("POST /api/v1/requests/{id}/abandon", "POST", "/api/v1/requests/"+reqAbandoned+"/abandon", "401 409 404 404 404 401 404 403 403 403"),
		with(row("POST /api/v1/requests/{id}/review", "POST", req+"/review", "401 403 403 403 403 401 403 403 403 409"),
			func(r *matrixRow) { r.body = jsonBody(map[string]bool{"approve": true}) }),
		with(row("POST /api/v1/requests/{id}/attachments", "POST", req+"/attachments", "401 404 201 404 404 401 404 201 201 201"),
			func(r *matrixRow) { r.body = upload("file") }),
		row("GET /api/v1/requests/{id}/attachments/{name}", "GET", req+"/attachments/ethics.txt", "401 404 200 404 404 401 404 200 200 200"),
		row("GET /api/v1/basket", "GET", "/api/v1/basket", api),
		with(row("POST /api/v1/basket", "POST", "/api/v1/basket", api), func(r *matrixRow) { r.body = jsonBody(map[string]string{"dataset": d3}) }),
		row("DELETE /api/v1/basket/{dataset}", "DELETE", "/api/v1/basket/"+d3, api),
		row("GET /api/v1/visas", "GET", "/api/v1/visas", api),
		with(row("POST /api/v1/visas/{jti}/revoke", "POST", "/api/v1/visas/"+revokedJTI+"/revoke", "401 404 404 404 403 401 404 409 409 409"),
			func(r *matrixRow) { r.body = jsonBody(map[string]string{"reason": "matrix"}) }),
		row("GET /api/v1/passport", "GET", "/api/v1/passport", api),
		row("GET /api/v1/notices", "GET", "/api/v1/notices", api),
		row("POST /api/v1/notices/read", "POST", "/api/v1/notices/read", api),
		row("/api/", "GET", "/api/v1/nosuch", "404 404 404 404 404 404 404 404 404 404"),
	}
}

// nodeRows is node alpha's part of the matrix, reached directly: its own users with its
// tokens or sessions, researchers with their passports.
func nodeRows(nodeURL, d1 string, inD1 []string, study1, study2, series1, inst1 string) []matrixRow {
	const (
		public  = "200 200 200 200 200 200 200 200 200 200"
		staff   = "401 401 401 401 401 401 401 200 200 401" // the node's own users only
		page    = "login login login login login login login 200 200 login"
		visaD1  = "401 403 403 403 403 403 401 200 200 401"
		visaD2  = "401 403 200 403 403 403 401 200 200 401"
		dcmJSON = "application/dicom+json"
	)
	row := func(method, path, want string) matrixRow {
		return matrixRow{route: "node", method: method, url: nodeURL + path, want: w(want)}
	}
	with := func(r matrixRow, f func(*matrixRow)) matrixRow { f(&r); return r }
	nodeForm := func(v url.Values) func(*matrixCaller) (io.Reader, string) { return form(v) }
	return []matrixRow{
		row("GET", "/healthz", public),
		row("GET", "/readyz", public),
		row("GET", "/metrics", public),
		row("GET", "/static/cie.css", public),
		row("GET", "/", public),
		row("GET", "/login", public),
		row("GET", "/audit", page),
		row("GET", "/archive", page),
		row("GET", "/datasets", page),
		row("GET", "/datasets/studies", page),
		with(row("POST", "/datasets/"+d1+"/publish", "login login login login login login login 303 303 login"),
			func(r *matrixRow) { r.body = nodeForm(nil) }),
		with(row("POST", "/datasets/new", "login login login login login login login 303 303 login"), func(r *matrixRow) { r.body = nodeForm(nil) }),
		with(row("POST", "/archive/upload", "login login login login login login login 200 200 login"), func(r *matrixRow) { r.body = upload("files") }),
		with(row("POST", "/archive/quarantine/nosuch/release", "login login login login login login login 404 404 login"),
			func(r *matrixRow) { r.body = nodeForm(nil) }),
		row("GET", "/viewer/?study="+study1+"&series="+series1, public),

		with(row("GET", "/dicomweb/studies", "401 403 200 403 403 403 401 200 200 401"),
			func(r *matrixRow) { r.qido, r.all, r.accept = true, true, dcmJSON }),
		with(row("GET", "/dicomweb/series", "401 403 200 403 403 403 401 200 200 401"), func(r *matrixRow) { r.accept = dcmJSON }),
		with(row("GET", "/dicomweb/instances", "401 403 200 403 403 403 401 200 200 401"), func(r *matrixRow) { r.accept = dcmJSON }),
		// A search under a study of D1 with a visa for D2 only finds nothing (as for a study
		// that is not there).
		with(row("GET", "/dicomweb/studies/"+study1+"/series", "401 403 200 403 403 403 401 200 200 401"),
			func(r *matrixRow) { r.qido, r.accept = true, dcmJSON }),
		row("GET", "/dicomweb/studies/"+study1+"/metadata", visaD1),
		row("GET", "/dicomweb/studies/"+study2+"/metadata", visaD2),
		with(row("GET", "/dicomweb/studies/"+study1, visaD1), func(r *matrixRow) { r.accept = dicomweb.ZipType }),
		with(row("GET", "/dicomweb/studies/"+study2, visaD2), func(r *matrixRow) { r.accept = dicomweb.ZipType }),
		row("GET", "/dicomweb"+inst1, visaD1),
		row("GET", "/dicomweb"+inst1+"/metadata", visaD1),
		with(row("GET", "/dicomweb"+inst1+"/frames/1", visaD1),
			func(r *matrixRow) { r.accept = `multipart/related; type="application/octet-stream"; transfer-syntax=*` }),
		row("GET", "/dicomweb"+inst1+"/rendered", visaD1),
		row("GET", "/dicomweb/studies/"+study1+"/thumbnail", visaD1),
		with(row("POST", "/dicomweb/studies", "401 403 403 403 403 403 401 415 415 401"), func(r *matrixRow) { r.body = jsonBody(nil) }),

		row("GET", "/api/v1/openapi.json", public),
		row("GET", "/api/v1/status", staff),
		row("GET", "/api/v1/audit/checkpoint", staff),
		row("GET", "/api/v1/datasets", staff),
		with(row("POST", "/api/v1/datasets", "401 401 401 401 401 401 401 400 400 401"), func(r *matrixRow) { r.body = jsonBody(map[string]any{}) }),
		row("POST", "/api/v1/datasets/"+d1+"/publish", "401 401 401 401 401 401 401 409 409 401"),
		row("GET", "/api/v1/datasets/"+d1+"/verify", staff),
		row("GET", "/api/v1/datasets/"+d1+"/versions", staff),
		// The same studies again: the content is unchanged, nothing is recorded.
		with(row("PUT", "/api/v1/datasets/"+d1+"/studies", staff), func(r *matrixRow) { r.body = jsonBody(map[string]any{"studies": inD1}) }),
	}
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// hubSession logs user in at the hub through its embedded OpenID provider and returns
// the session cookie (as a Cookie header) and the session's CSRF token.
func hubSession(t *testing.T, hubURL, user string) (string, string) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := c.Get(hubURL + "/login?next=/tokens")
	if err != nil {
		t.Error(err)
		return "", ""
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	action := regexp.MustCompile(`<form method="post" action="([^"]*)"`).FindStringSubmatch(string(b))
	if action == nil {
		t.Errorf("login of %s: no form at %s: %d %s", user, resp.Request.URL, resp.StatusCode, b)
		return "", ""
	}
	f := url.Values{"username": {user}, "password": {"correct horse battery"}, "action": {"login"}}
	for _, h := range regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`).FindAllStringSubmatch(string(b), -1) {
		f.Set(h[1], html.UnescapeString(h[2]))
	}
	target, _ := resp.Request.URL.Parse(html.UnescapeString(action[1]))
	resp, err = c.PostForm(target.String(), f)
	if err != nil {
		t.Error(err)
		return "", ""
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfRe.FindStringSubmatch(string(b))
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/tokens" || m == nil {
		t.Errorf("login of %s ended at %s: %d %.300s", user, resp.Request.URL, resp.StatusCode, b)
		return "", ""
	}
	return cookieHeader(jar, hubURL), html.UnescapeString(m[1])
}

// nodeSession logs user in at a node with its password form.
func nodeSession(t *testing.T, nodeURL, user string) (string, string) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := c.Get(nodeURL + "/login")
	if err != nil {
		t.Error(err)
		return "", ""
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfRe.FindStringSubmatch(string(b))
	if m == nil {
		t.Errorf("node login page: %d %s", resp.StatusCode, b)
		return "", ""
	}
	resp, err = c.PostForm(nodeURL+"/login", url.Values{"csrf": {html.UnescapeString(m[1])}, "username": {user}, "password": {"correct horse battery"}, "next": {"/datasets"}})
	if err != nil {
		t.Error(err)
		return "", ""
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	m = csrfRe.FindStringSubmatch(string(b))
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/datasets" || m == nil {
		t.Errorf("node login of %s ended at %s: %d %.300s", user, resp.Request.URL, resp.StatusCode, b)
		return "", ""
	}
	return cookieHeader(jar, nodeURL), html.UnescapeString(m[1])
}

func cookieHeader(jar http.CookieJar, base string) string {
	u, _ := url.Parse(base)
	var parts []string
	for _, c := range jar.Cookies(u) {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

// spareTokenID makes a personal token for c on the hub's token page and returns its id,
// for the matrix to revoke.
func spareTokenID(t *testing.T, hubURL string, c *matrixCaller) string {
	t.Helper()
	body, ctype := form(url.Values{"label": {"spare"}})(c)
	req, _ := http.NewRequest("POST", hubURL+"/tokens", body)
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Cookie", c.hubCookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`action="/tokens/([^"/]+)/revoke"`).FindStringSubmatch(string(b))
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("spare token: %d %.500s", resp.StatusCode, b)
	}
	return m[1]
}

// uploadAttachment attaches a file to an access request through the API.
func uploadAttachment(t *testing.T, hubURL, token, request, name string) (int, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write([]byte("approved by the ethics committee"))
	mw.Close()
	req, _ := http.NewRequest("POST", hubURL+"/api/v1/requests/"+request+"/attachments", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}
