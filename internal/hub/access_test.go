package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cancerimage/cie/internal/audit"
	"github.com/cancerimage/cie/internal/auth"
	"github.com/cancerimage/cie/internal/blob"
	"github.com/cancerimage/cie/internal/catalogue"
	"github.com/cancerimage/cie/internal/fed"
	"github.com/cancerimage/cie/internal/hub/access"
	"github.com/cancerimage/cie/internal/testenv"
)

// accessWorld is a hub with the people of the authorization matrix, their tokens and
// three catalogue datasets, over one SQL engine.
type accessWorld struct {
	t      *testing.T
	h      *Hub
	srv    *httptest.Server
	tokens map[string]string // user → bearer token
}

// The people of the matrix. Requests are asked by rita for datasets of oslo.
var matrixUsers = []struct{ name, role, node string }{
	{"rita", auth.RoleResearcher, ""},         // the researcher who asks
	{"otto", auth.RoleResearcher, ""},         // another researcher
	{"olga", auth.RoleDataHolder, "oslo"},     // data holder of the request's node
	{"vera", auth.RoleDataHolder, "valencia"}, // data holder of another node
	{"nadia", auth.RoleNodeAdmin, "oslo"},     // node admin of the request's node
	{"root", auth.RolePlatformAdmin, ""},      // platform admin
}

// matrixActors are the columns of the matrix: "" is anonymous.
var matrixActors = []string{"", "rita", "otto", "olga", "vera", "nadia", "root"}

func engineURLs() []struct {
	name string
	url  func(testing.TB) string
} {
	return []struct {
		name string
		url  func(testing.TB) string
	}{
		{"sqlite", func(t testing.TB) string { return filepath.Join(t.TempDir(), "hub.db") }},
		{"postgres", testenv.Postgres},
	}
}

func newAccessWorld(t *testing.T, dbURL string, set func(c *Config)) *accessWorld {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Name = "test-hub"
	cfg.DataDir = t.TempDir()
	cfg.DB = dbURL
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Bus.Listen = "127.0.0.1:0"
	cfg.Access.MaxAttachment = 1000
	if set != nil {
		set(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.closeStores(context.Background()) })
	w := &accessWorld{t: t, h: h, tokens: map[string]string{}}
	ctx := context.Background()
	for _, u := range matrixUsers {
		if err := h.users.Put(ctx, u.name, u.role, "long enough"); err != nil {
			t.Fatal(err)
		}
		if u.node != "" {
			if err := h.members.Set(ctx, u.name, []string{u.node}); err != nil {
				t.Fatal(err)
			}
		}
		tok, _, err := h.users.IssueToken(ctx, u.name, "test")
		if err != nil {
			t.Fatal(err)
		}
		w.tokens[u.name] = tok
	}
	for _, d := range []catalogue.Dataset{
		{ID: "oslo-aaa111", Node: "oslo", Title: "Oslo lung CT", State: catalogue.StatePublished},
		{ID: "oslo-bbb222", Node: "oslo", Title: "Oslo brain MR", State: catalogue.StatePublished},
		{ID: "valencia-ccc333", Node: "valencia", Title: "Valencia breast MR", State: catalogue.StatePublished},
		{ID: "oslo-gone", Node: "oslo", Title: "Withdrawn", State: catalogue.StateInvalidated},
	} {
		body, _ := json.Marshal(d)
		if _, err := h.db.Exec(ctx, `INSERT INTO catalogue (id, node, state, body, updated_ms) VALUES (?, ?, ?, ?, ?)`,
			d.ID, d.Node, string(d.State), string(body), time.Now().UnixMilli()); err != nil {
			t.Fatal(err)
		}
	}
	w.srv = httptest.NewServer(h.Handler())
	t.Cleanup(w.srv.Close)
	return w
}

// call makes an API call as user ("" anonymous) with a JSON body (nil: none) and returns
// the status and the decoded answer.
func (w *accessWorld) call(user, method, path string, body any) (int, map[string]any) {
	w.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, w.srv.URL+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return w.do(user, req)
}

func (w *accessWorld) do(user string, req *http.Request) (int, map[string]any) {
	w.t.Helper()
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+w.tokens[user])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &m); err != nil {
			w.t.Fatalf("%s %s: %v in %s", req.Method, req.URL.Path, err, raw)
		}
	} else {
		m = map[string]any{"raw": string(raw)}
	}
	return resp.StatusCode, m
}

// upload attaches a file to request id as user.
func (w *accessWorld) upload(user, id, name string, content []byte) (int, map[string]any) {
	w.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(content)
	mw.Close()
	req, _ := http.NewRequest("POST", w.srv.URL+"/api/v1/requests/"+id+"/attachments", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return w.do(user, req)
}

// request makes a request of rita for oslo-aaa, in progress (reviewed by root).
func (w *accessWorld) request(review bool) *access.Request {
	w.t.Helper()
	ctx := context.Background()
	a := access.Actor{User: "rita", Role: auth.RoleResearcher}
	r, err := w.h.access.Submit(ctx, a, access.Draft{Title: "Nodules", Description: "Detector", Purpose: "research", Model: access.View,
		Datasets: []access.Part{{Node: "oslo", Dataset: "oslo-aaa111"}}})
	if err != nil {
		w.t.Fatal(err)
	}
	if review {
		if r, err = w.h.access.Review(ctx, access.Actor{User: "root", Role: auth.RolePlatformAdmin}, r.ID, true); err != nil {
			w.t.Fatal(err)
		}
	}
	return r
}

// approve moves rita's request to made available at oslo, which issues a visa.
func (w *accessWorld) approve(r *access.Request) access.Visa {
	w.t.Helper()
	ctx := context.Background()
	if _, err := w.h.access.MovePart(ctx, access.Actor{User: "olga", Role: auth.RoleDataHolder, Nodes: []string{"oslo"}}, r.ID, "oslo", "oslo-aaa111", access.MadeAvailable); err != nil {
		w.t.Fatal(err)
	}
	vs, err := w.h.access.ValidVisas(ctx, "rita", "oslo")
	if err != nil {
		w.t.Fatal(err)
	}
	i := slices.IndexFunc(vs, func(v access.Visa) bool { return v.Request == r.ID })
	if i < 0 {
		w.t.Fatalf("no visa for %s: %+v", r.ID, vs)
	}
	return vs[i]
}

// TestAccessAuthorizationMatrix: every access endpoint × anonymous, the researcher,
// another researcher, the data holder of the request's node, a data holder of another
// node, the node's admin and a platform admin; each cell is the expected status. Every
// cell runs on fresh state, made by its row's setup.
func TestAccessAuthorizationMatrix(t *testing.T) {
	for _, e := range engineURLs() {
		t.Run(e.name, func(t *testing.T) {
			w := newAccessWorld(t, e.url(t), nil)
			type call struct {
				method, path string
				body         any
				upload       []byte // a multipart upload of this content instead of body
			}
			rows := []struct {
				name  string
				setup func() call
				want  []int // in the order of matrixActors
			}{
				{"submit", func() call {
					return call{"POST", "/api/v1/requests", map[string]any{"title": "T", "description": "D", "purpose": "P", "model": "view", "datasets": []string{"oslo-aaa111"}}, nil}
				}, []int{401, 201, 201, 201, 201, 201, 201}},
				{"list", func() call { return call{"GET", "/api/v1/requests", nil, nil} }, []int{401, 200, 200, 200, 200, 200, 200}},
				{"get", func() call { return call{"GET", "/api/v1/requests/" + w.request(false).ID, nil, nil} }, []int{401, 200, 404, 200, 404, 200, 200}},
				{"move part", func() call {
					return call{"POST", "/api/v1/requests/" + w.request(true).ID + "/parts/oslo/oslo-aaa111", map[string]string{"state": "checking_availability"}, nil}
				}, []int{401, 403, 403, 200, 403, 200, 403}},
				{"message", func() call {
					return call{"POST", "/api/v1/requests/" + w.request(true).ID + "/messages", map[string]string{"text": "hello"}, nil}
				}, []int{401, 201, 404, 201, 404, 201, 201}},
				{"abandon", func() call { return call{"POST", "/api/v1/requests/" + w.request(true).ID + "/abandon", nil, nil} }, []int{401, 200, 404, 403, 404, 403, 403}},
				{"review", func() call {
					return call{"POST", "/api/v1/requests/" + w.request(false).ID + "/review", map[string]bool{"approve": true}, nil}
				}, []int{401, 403, 403, 403, 403, 403, 200}},
				{"attach", func() call {
					return call{"POST", "/api/v1/requests/" + w.request(true).ID + "/attachments", nil, []byte("ethics")}
				}, []int{401, 201, 404, 201, 404, 201, 201}},
				{"download attachment", func() call {
					r := w.request(true)
					if st, _ := w.upload("rita", r.ID, "ethics.pdf", []byte("approved")); st != 201 {
						t.Fatalf("upload: %d", st)
					}
					return call{"GET", "/api/v1/requests/" + r.ID + "/attachments/ethics.pdf", nil, nil}
				}, []int{401, 200, 404, 200, 404, 200, 200}},
				{"basket", func() call { return call{"GET", "/api/v1/basket", nil, nil} }, []int{401, 200, 200, 200, 200, 200, 200}},
				{"basket add", func() call { return call{"POST", "/api/v1/basket", map[string]string{"dataset": "oslo-aaa111"}, nil} }, []int{401, 200, 200, 200, 200, 200, 200}},
				{"basket remove", func() call { return call{"DELETE", "/api/v1/basket/oslo-aaa111", nil, nil} }, []int{401, 200, 200, 200, 200, 200, 200}},
				{"visas", func() call { return call{"GET", "/api/v1/visas", nil, nil} }, []int{401, 200, 200, 200, 200, 200, 200}},
				{"revoke", func() call {
					v := w.approve(w.request(true))
					return call{"POST", "/api/v1/visas/" + v.JTI + "/revoke", map[string]string{"reason": "test"}, nil}
				}, []int{401, 403, 404, 200, 404, 200, 200}},
				{"passport", func() call { return call{"GET", "/api/v1/passport", nil, nil} }, []int{401, 200, 200, 200, 200, 200, 200}},
				{"notices", func() call { return call{"GET", "/api/v1/notices", nil, nil} }, []int{401, 200, 200, 200, 200, 200, 200}},
				{"notices read", func() call { return call{"POST", "/api/v1/notices/read", nil, nil} }, []int{401, 200, 200, 200, 200, 200, 200}},
			}
			covered := map[string]bool{}
			for _, row := range rows {
				for i, who := range matrixActors {
					c := row.setup()
					covered[c.method+" "+regexp.MustCompile(`req-[0-9a-f]+`).ReplaceAllString(c.path, "{id}")] = true
					var st int
					if c.upload != nil {
						st, _ = w.upload(who, strings.Split(c.path, "/")[4], "f.txt", c.upload)
					} else {
						st, _ = w.call(who, c.method, c.path, c.body)
					}
					if st != row.want[i] {
						name := who
						if name == "" {
							name = "anonymous"
						}
						t.Errorf("%s as %s: %d, want %d", row.name, name, st, row.want[i])
					}
				}
			}
			// The matrix covers every access route.
			for _, rt := range w.h.accessRoutes() {
				p := strings.NewReplacer("{node}", "oslo", "{dataset}", "oslo-aaa111", "{name}", "ethics.pdf").Replace(rt.Pattern)
				p = regexp.MustCompile(`/visas/\{jti\}`).ReplaceAllString(p, "/visas/")
				found := false
				for c := range covered {
					if c == p || strings.HasPrefix(p, "POST /api/v1/visas/") && strings.HasPrefix(c, "POST /api/v1/visas/") {
						found = true
					}
				}
				if !found {
					t.Errorf("route %s is not in the matrix", rt.Pattern)
				}
			}
		})
	}
}

// TestAccessFlow: the API from the basket to a revoked visa, with the errors a client
// sees (400 naming the field, 409 for a forbidden transition, 413 for a large file) and
// nothing changed by a failed call; notices, the webhook of the node, the passport and
// the visas the relay carries.
func TestAccessFlow(t *testing.T) {
	for _, e := range engineURLs() {
		t.Run(e.name, func(t *testing.T) {
			// The oslo webhook fails once, then takes the events.
			var mu sync.Mutex
			var got []access.Event
			fails := 1
			hook := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				if fails > 0 {
					fails--
					rw.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				var ev access.Event
				if err := json.NewDecoder(r.Body).Decode(&ev); err != nil || r.Header.Get("X-Cie-Event") != ev.Type {
					t.Errorf("webhook body: %v %q", err, r.Header.Get("X-Cie-Event"))
				}
				got = append(got, ev)
			}))
			defer hook.Close()
			w := newAccessWorld(t, e.url(t), func(c *Config) {
				c.Access.Webhooks = []string{"oslo=" + hook.URL}
				c.Access.VisaTTL = 48 * time.Hour
			})
			w.h.hooks.backoff = 10 * time.Millisecond
			ctx, stop := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); w.h.hooks.run(ctx) }()
			defer func() { stop(); <-done }()

			// The basket.
			if st, m := w.call("rita", "POST", "/api/v1/basket", map[string]string{"dataset": "oslo-nope"}); st != 400 || m["field"] != "dataset" {
				t.Fatalf("unknown dataset into the basket: %d %v", st, m)
			}
			for _, id := range []string{"oslo-aaa111", "valencia-ccc333"} {
				if st, _ := w.call("rita", "POST", "/api/v1/basket", map[string]string{"dataset": id}); st != 200 {
					t.Fatalf("basket add %s: %d", id, st)
				}
			}
			// Refused submits name the field and change nothing.
			good := map[string]any{"title": "Lung nodules", "description": "Train a detector", "purpose": "research", "model": "view"}
			for field, change := range map[string]func(m map[string]any){
				"title":       func(m map[string]any) { m["title"] = " " },
				"model":       func(m map[string]any) { m["model"] = "everything" },
				"datasets[1]": func(m map[string]any) { m["datasets"] = []string{"oslo-aaa111", "oslo-nope"} },
				"datasets[0]": func(m map[string]any) { m["datasets"] = []string{"oslo-gone"} },
				"datasets":    func(m map[string]any) { m["datasets"] = []string{} },
				"body":        func(m map[string]any) { m["colour"] = "red" },
			} {
				m := map[string]any{}
				for k, v := range good {
					m[k] = v
				}
				change(m)
				if st, ans := w.call("rita", "POST", "/api/v1/requests", m); st != 400 || ans["field"] != field {
					t.Errorf("bad %s: %d %v", field, st, ans)
				}
			}
			if st, m := w.call("rita", "GET", "/api/v1/requests", nil); st != 200 || len(m["requests"].([]any)) != 0 {
				t.Fatalf("a refused submit left a request: %v", m)
			}
			// Submit from the basket, which it empties.
			st, m := w.call("rita", "POST", "/api/v1/requests", good)
			if st != 201 || m["state"] != "under_review" || len(m["parts"].([]any)) != 2 {
				t.Fatalf("submit: %d %v", st, m)
			}
			id := m["id"].(string)
			if _, b := w.call("rita", "GET", "/api/v1/basket", nil); len(b["datasets"].([]any)) != 0 {
				t.Fatalf("basket after submit: %v", b)
			}
			// Holders wait for the review (409), which only a platform admin gives.
			move := func(who, node, ds, state string) (int, map[string]any) {
				return w.call(who, "POST", "/api/v1/requests/"+id+"/parts/"+node+"/"+ds, map[string]string{"state": state})
			}
			if st, _ := move("olga", "oslo", "oslo-aaa111", "checking_availability"); st != 409 {
				t.Fatalf("move before review: %d", st)
			}
			if st, m := w.call("root", "POST", "/api/v1/requests/"+id+"/review", map[string]any{}); st != 400 || m["field"] != "approve" {
				t.Fatalf("review without a decision: %d %v", st, m)
			}
			if st, m := w.call("root", "POST", "/api/v1/requests/"+id+"/review", map[string]bool{"approve": true}); st != 200 || m["state"] != "in_progress" {
				t.Fatalf("review: %d %v", st, m)
			}
			if st, _ := w.call("root", "POST", "/api/v1/requests/"+id+"/review", map[string]bool{"approve": true}); st != 409 {
				t.Fatalf("second review: %d", st)
			}
			if st, m := move("olga", "oslo", "oslo-aaa111", "approved"); st != 400 || m["field"] != "state" {
				t.Fatalf("unknown state: %d %v", st, m)
			}
			if st, _ := move("olga", "valencia", "valencia-ccc333", "checking_availability"); st != 403 {
				t.Fatalf("oslo moved valencia's part: %d", st)
			}
			if st, _ := move("olga", "oslo", "oslo-zzz", "checking_availability"); st != 404 {
				t.Fatalf("a dataset not in the request: %d", st)
			}
			// Conversation and files.
			if st, m := w.call("olga", "POST", "/api/v1/requests/"+id+"/messages", map[string]string{"text": "Which cohort?", "node": "oslo"}); st != 201 || len(m["messages"].([]any)) != 1 {
				t.Fatalf("message: %d %v", st, m)
			}
			if st, m := w.call("olga", "POST", "/api/v1/requests/"+id+"/messages", map[string]string{"text": "x", "node": "valencia"}); st != 403 {
				t.Fatalf("olga wrote for valencia: %d %v", st, m)
			}
			if st, m := w.call("rita", "POST", "/api/v1/requests/"+id+"/messages", map[string]string{"text": " "}); st != 400 || m["field"] != "text" {
				t.Fatalf("empty message: %d %v", st, m)
			}
			if st, _ := w.upload("rita", id, "ethics.pdf", bytes.Repeat([]byte("e"), 1000)); st != 201 {
				t.Fatalf("upload: %d", st)
			}
			if st, _ := w.upload("rita", id, "ethics.pdf", []byte("again")); st != 409 {
				t.Fatalf("same name twice: %d", st)
			}
			if st, _ := w.upload("rita", id, "big.bin", bytes.Repeat([]byte("b"), 1001)); st != 413 {
				t.Fatalf("too large: %d", st)
			}
			var keys []string
			if err := w.h.blobs.List(context.Background(), "access/"+id, func(i blob.Info) error { keys = append(keys, i.Key); return nil }); err != nil {
				t.Fatal(err)
			}
			if len(keys) != 1 {
				t.Fatalf("blobs after a refused and a good upload: %v", keys)
			}
			if st, m := w.call("vera", "GET", "/api/v1/requests/"+id+"/attachments/ethics.pdf", nil); st != 200 || m["raw"] != strings.Repeat("e", 1000) {
				t.Fatalf("valencia's holder downloads: %d", st)
			}
			_, r := w.call("rita", "GET", "/api/v1/requests/"+id, nil)
			if at := r["attachments"].([]any); len(at) != 1 || at[0].(map[string]any)["author"] != "rita" {
				t.Fatalf("attachments: %v", r["attachments"])
			}
			// Oslo makes its dataset available: a visa for rita, oslo-aaa111, view.
			for _, s := range []string{"checking_availability", "access_conditions_indicated", "resource_made_available"} {
				if st, m := move("olga", "oslo", "oslo-aaa111", s); st != 200 {
					t.Fatalf("move to %s: %d %v", s, st, m)
				}
			}
			if st, _ := move("olga", "oslo", "oslo-aaa111", "access_conditions_met"); st != 409 {
				t.Fatalf("out of an ended state: %d", st)
			}
			st, vm := w.call("rita", "GET", "/api/v1/visas", nil)
			vs := vm["visas"].([]any)
			if st != 200 || len(vs) != 1 {
				t.Fatalf("rita's visas: %d %v", st, vm)
			}
			v := vs[0].(map[string]any)
			if v["dataset"] != "oslo-aaa111" || v["node"] != "oslo" || v["access"] != "view" || v["request"] != id {
				t.Fatalf("visa: %v", v)
			}
			_, pm := w.call("rita", "GET", "/api/v1/passport", nil)
			passport := jwtClaims(t, pm["passport"].(string))
			inner := passport["ga4gh_passport_v1"].([]any)
			if passport["sub"] != "rita" || len(inner) != 1 {
				t.Fatalf("passport: %v", passport)
			}
			claims := jwtClaims(t, inner[0].(string))
			gv := claims["ga4gh_visa_v1"].(map[string]any)
			exp := time.Unix(int64(claims["exp"].(float64)), 0)
			if claims["sub"] != "rita" || gv["value"] != "oslo-aaa111" || gv["type"] != "ControlledAccessGrants" || claims["cie_access"] != "view" ||
				claims["cie_request"] != id || claims["jti"] != v["jti"] || exp.Sub(time.Now()) < 47*time.Hour || exp.Sub(time.Now()) > 48*time.Hour {
				t.Fatalf("visa claims: %v", claims)
			}
			// The relay carries it to oslo only.
			if toks, _ := w.h.relayVisas(context.Background(), "rita", "oslo"); len(toks) != 1 || toks[0] != inner[0] {
				t.Fatalf("relay visas for oslo: %v", toks)
			}
			if toks, _ := w.h.relayVisas(context.Background(), "rita", "valencia"); len(toks) != 0 {
				t.Fatalf("relay visas for valencia: %v", toks)
			}
			if toks, _ := w.h.relayVisas(context.Background(), "otto", "oslo"); len(toks) != 0 {
				t.Fatalf("relay visas for otto: %v", toks)
			}
			if st, m := w.call("otto", "GET", "/api/v1/passport", nil); st != 200 || len(m["visas"].([]any)) != 0 {
				t.Fatalf("otto's passport: %v", m)
			}
			// Notices: rita was told of the review, oslo's message and every move.
			_, nm := w.call("rita", "GET", "/api/v1/notices", nil)
			if nm["unread"].(float64) < 5 || !strings.Contains(fmt.Sprint(nm["notices"]), "Resource made available") {
				t.Fatalf("rita's notices: %v", nm)
			}
			w.call("rita", "POST", "/api/v1/notices/read", nil)
			if _, nm := w.call("rita", "GET", "/api/v1/notices", nil); nm["unread"].(float64) != 0 {
				t.Fatalf("unread after read: %v", nm["unread"])
			}
			// Valencia declines; the request concludes; it cannot be abandoned any more.
			if st, _ := move("vera", "valencia", "valencia-ccc333", "resource_unavailable"); st != 200 {
				t.Fatalf("valencia declines: %d", st)
			}
			if _, r := w.call("rita", "GET", "/api/v1/requests/"+id, nil); r["state"] != "concluded" {
				t.Fatalf("request state: %v", r["state"])
			}
			if st, _ := w.call("rita", "POST", "/api/v1/requests/"+id+"/abandon", nil); st != 409 {
				t.Fatalf("abandon a concluded request: %d", st)
			}
			// Revocation: the hub's list names it, the passport and relay drop it.
			jti := v["jti"].(string)
			if st, m := w.call("olga", "POST", "/api/v1/visas/"+jti+"/revoke", map[string]string{"reason": "consent withdrawn"}); st != 200 || m["revoked_by"] != "olga" {
				t.Fatalf("revoke: %d %v", st, m)
			}
			if st, _ := w.call("root", "POST", "/api/v1/visas/"+jti+"/revoke", nil); st != 409 {
				t.Fatalf("second revoke: %d", st)
			}
			if !slices.ContainsFunc(w.h.visas.Revocations().Entries, func(r fed.VisaRevocation) bool { return r.JTI == jti }) {
				t.Fatalf("revocation list: %+v", w.h.visas.Revocations())
			}
			if toks, _ := w.h.relayVisas(context.Background(), "rita", "oslo"); len(toks) != 0 {
				t.Fatalf("relay carries a revoked visa: %v", toks)
			}
			if _, m := w.call("rita", "GET", "/api/v1/passport", nil); len(m["visas"].([]any)) != 0 {
				t.Fatalf("passport carries a revoked visa: %v", m)
			}
			// Oslo's webhook saw its events, after one failed delivery; none of valencia's.
			deadline := time.Now().Add(5 * time.Second)
			for {
				mu.Lock()
				n := len(got)
				types := []string{}
				for _, ev := range got {
					types = append(types, ev.Type)
					if ev.Node != "oslo" || ev.Request != id {
						t.Errorf("webhook event for another node or request: %+v", ev)
					}
				}
				mu.Unlock()
				if slices.Contains(types, access.EventVisaIssued) && slices.Contains(types, access.EventRevoked) && slices.Contains(types, access.EventSubmitted) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("webhook got %d events: %v", n, types)
				}
				time.Sleep(20 * time.Millisecond)
			}
			// The hub's audit log names the grant.
			entries, err := w.h.audit.Entries(context.Background(), 0, int(w.h.audit.Size()))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(entries, func(e audit.Entry) bool { return e.Type == "access.visa.issued" && e.Subject == id }) {
				t.Fatal("no access.visa.issued in the hub's audit log")
			}
		})
	}
}

// TestAccessSessionsNeedCSRF: with a session (the pages' fetches), a state change needs
// the session's CSRF token; without it nothing happens.
func TestAccessSessionsNeedCSRF(t *testing.T) {
	w := newAccessWorld(t, filepath.Join(t.TempDir(), "hub.db"), nil)
	rec := httptest.NewRecorder()
	sess := w.h.sessions.Start(rec, auth.User{Name: "rita", Role: auth.RoleResearcher})
	cookie := rec.Result().Cookies()[0]
	post := func(csrf string) int {
		req, _ := http.NewRequest("POST", w.srv.URL+"/api/v1/basket", strings.NewReader(`{"dataset":"oslo-aaa111"}`))
		req.AddCookie(cookie)
		req.Header.Set("Content-Type", "application/json")
		if csrf != "" {
			req.Header.Set("X-CSRF-Token", csrf)
		}
		st, _ := w.do("", req)
		return st
	}
	if st := post(""); st != 403 {
		t.Fatalf("session without CSRF: %d", st)
	}
	if st := post("forged"); st != 403 {
		t.Fatalf("session with a wrong CSRF: %d", st)
	}
	if b, _ := w.h.access.Basket(context.Background(), "rita"); len(b) != 0 {
		t.Fatalf("refused call changed the basket: %v", b)
	}
	if st := post(w.h.sessions.CSRF(sess)); st != 200 {
		t.Fatalf("session with CSRF: %d", st)
	}
	// The page forms: add to the basket from the dataset page, then see it.
	form := func(path string, v url.Values) *http.Response {
		req, _ := http.NewRequest("POST", w.srv.URL+path, strings.NewReader(v.Encode()))
		req.AddCookie(cookie)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := form("/basket", url.Values{"dataset": {"valencia-ccc333"}}); resp.StatusCode != 403 {
		t.Fatalf("basket form without CSRF: %d", resp.StatusCode)
	}
	if resp := form("/basket", url.Values{"dataset": {"valencia-ccc333"}, "csrf": {w.h.sessions.CSRF(sess)}, "next": {"/catalogue/valencia-ccc333"}}); resp.StatusCode != 303 || resp.Header.Get("Location") != "/catalogue/valencia-ccc333" {
		t.Fatalf("basket form: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if b, _ := w.h.access.Basket(context.Background(), "rita"); len(b) != 2 {
		t.Fatalf("basket after the form: %v", b)
	}
}
