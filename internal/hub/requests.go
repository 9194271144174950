package hub

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/cancerimage/cie/internal/audit"
	"github.com/cancerimage/cie/internal/auth"
	"github.com/cancerimage/cie/internal/blob"
	"github.com/cancerimage/cie/internal/catalogue"
	"github.com/cancerimage/cie/internal/httpx"
	"github.com/cancerimage/cie/internal/hub/access"
	"github.com/cancerimage/cie/internal/visa"
)

// setupAccess opens the access negotiation over the hub's store: visas on approval,
// notices, webhooks and audit entries for every change.
func (h *Hub) setupAccess() error {
	urls, err := h.cfg.webhooks()
	if err != nil {
		return err
	}
	h.hooks = newWebhooks(urls, h.log.With("part", "webhook"))
	h.access = access.NewStore(h.db)
	h.access.AutoReview = h.cfg.Access.AutoReview
	h.access.Issue = h.issueVisa
	h.access.OnEvent = h.onAccessEvent
	return nil
}

// issueVisa signs the visa of an approved part: subject the researcher, value the
// dataset's catalogue id, the request's access model, expiring after access.visa_ttl.
func (h *Hub) issueVisa(ctx context.Context, r *access.Request, p access.Part) (access.Visa, error) {
	iss, err := h.visas.Issue(visa.Grant{Subject: r.Researcher, Dataset: p.Dataset, Access: visa.Access(r.Model),
		Expires: time.Now().Add(h.cfg.Access.VisaTTL), RequestID: r.ID})
	if err != nil {
		return access.Visa{}, err
	}
	return access.Visa{JTI: iss.JTI, User: r.Researcher, Node: p.Node, Dataset: p.Dataset, Request: r.ID, Access: r.Model,
		Token: iss.Token, Issued: iss.IssuedAt, Expires: iss.Expires}, nil
}

// onAccessEvent logs a committed change in the hub's audit log and hands it to the
// node's webhook.
func (h *Hub) onAccessEvent(e access.Event) {
	fields := map[string]string{"request": e.Request, "node": e.Node}
	if e.Dataset != "" {
		fields["dataset"] = e.Dataset
	}
	if e.State != "" {
		fields["state"] = e.State
	}
	if _, err := h.audit.Append(context.Background(), audit.Event{Type: "access." + e.Type, Actor: e.Actor, Subject: e.Request, Fields: fields}); err != nil {
		h.log.Error("logging an access event", "type", e.Type, "request", e.Request, "err", err)
	}
	h.hooks.enqueue(e)
}

// actor is who p is for the access negotiation: their role and nodes.
func (h *Hub) actor(ctx context.Context, p auth.Principal) (access.Actor, error) {
	nodes, err := h.members.Nodes(ctx, p.User)
	if err != nil {
		return access.Actor{}, err
	}
	return access.Actor{User: p.User, Role: p.Role, Nodes: nodes}, nil
}

// csrfOK reports whether a state-changing request made with a session carries the
// session's CSRF token (header X-CSRF-Token, or the csrf field of a url-encoded form).
// Token requests need none.
func (h *Hub) csrfOK(r *http.Request, p auth.Principal) bool {
	if p.Token || r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	s, ok := h.sessions.Read(r)
	if !ok {
		return false
	}
	want := h.sessions.CSRF(s)
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" {
			got = r.PostFormValue("csrf")
		}
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// accessAPI wraps an access API handler: credentials (401), CSRF for sessions (403),
// and the actor.
func (h *Hub) accessAPI(fn func(w http.ResponseWriter, r *http.Request, a access.Actor)) http.HandlerFunc {
	return h.gate.API(func(w http.ResponseWriter, r *http.Request, p auth.Principal) {
		if !h.csrfOK(r, p) {
			httpx.Error(w, http.StatusForbidden, "missing or wrong CSRF token: send the page's token in X-CSRF-Token")
			return
		}
		a, err := h.actor(r.Context(), p)
		if err != nil {
			httpx.Error(w, http.StatusInternalServerError, "%v", err)
			return
		}
		fn(w, r, a)
	})
}

// fieldProblem is a 400 reply naming the field that is wrong.
type fieldProblem struct {
	httpx.Problem
	Field string `json:"field"`
}

// accessStatus maps an access error to its HTTP status.
func accessStatus(err error) int {
	switch {
	case errors.Is(err, access.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, access.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, access.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, access.ErrTransition):
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

func (h *Hub) accessError(w http.ResponseWriter, err error) {
	var fe *access.FieldError
	if errors.As(err, &fe) {
		httpx.JSON(w, http.StatusBadRequest, fieldProblem{httpx.Problem{Status: http.StatusBadRequest, Error: err.Error()}, fe.Field})
		return
	}
	st := accessStatus(err)
	if st == http.StatusInternalServerError {
		h.log.Error("access request", "err", err)
	}
	httpx.Error(w, st, "%v", err)
}

// readJSON decodes a JSON body of at most 1 MiB into v; a failure is a 400 naming "body".
func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &access.FieldError{Field: "body", Msg: "not the JSON expected: " + err.Error()}
	}
	return nil
}

// draftIn is the body of POST /api/v1/requests.
type draftIn struct {
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Purpose     string   `json:"purpose"`
	Model       string   `json:"model"`
	Datasets    []string `json:"datasets"` // catalogue ids; absent: the basket
}

// resolve turns catalogue dataset ids into request parts; an id that is not in the
// catalogue, or withdrawn, is a 400 naming it.
func (h *Hub) resolve(ctx context.Context, ids []string) ([]access.Part, error) {
	var parts []access.Part
	for i, id := range ids {
		d, err := catalogueSource{h}.Dataset(ctx, id)
		if errors.Is(err, catalogue.ErrNotFound) {
			return nil, &access.FieldError{Field: fmt.Sprintf("datasets[%d]", i), Msg: fmt.Sprintf("no dataset %q in the catalogue", id)}
		}
		if err != nil {
			return nil, err
		}
		if d.State == catalogue.StateInvalidated {
			return nil, &access.FieldError{Field: fmt.Sprintf("datasets[%d]", i), Msg: fmt.Sprintf("dataset %q was withdrawn by its node", id)}
		}
		parts = append(parts, access.Part{Node: d.Node, Dataset: d.ID})
	}
	return parts, nil
}

// submit files a request for a (the hub side of the form and of the API).
func (h *Hub) submit(ctx context.Context, a access.Actor, in draftIn) (*access.Request, error) {
	ids := in.Datasets
	if ids == nil {
		b, err := h.access.Basket(ctx, a.User)
		if err != nil {
			return nil, err
		}
		for _, it := range b {
			ids = append(ids, it.Dataset)
		}
	}
	parts, err := h.resolve(ctx, ids)
	if err != nil {
		return nil, err
	}
	return h.access.Submit(ctx, a, access.Draft{Title: in.Title, Description: in.Description, Purpose: in.Purpose,
		Model: access.Model(in.Model), Datasets: parts})
}

func (h *Hub) apiSubmit(w http.ResponseWriter, r *http.Request, a access.Actor) {
	var in draftIn
	if err := readJSON(r, &in); err != nil {
		h.accessError(w, err)
		return
	}
	req, err := h.submit(r.Context(), a, in)
	if err != nil {
		h.accessError(w, err)
		return
	}
	w.Header().Set("Location", "/api/v1/requests/"+req.ID)
	httpx.JSON(w, http.StatusCreated, req)
}

func (h *Hub) apiRequests(w http.ResponseWriter, r *http.Request, a access.Actor) {
	list, err := h.access.List(r.Context(), a)
	if err != nil {
		h.accessError(w, err)
		return
	}
	if list == nil {
		list = []*access.Request{}
	}
	httpx.JSON(w, http.StatusOK, map[string]any{"requests": list})
}

func (h *Hub) apiRequest(w http.ResponseWriter, r *http.Request, a access.Actor) {
	req, err := h.access.Get(r.Context(), a, r.PathValue("id"))
	if err != nil {
		h.accessError(w, err)
		return
	}
	httpx.JSON(w, http.StatusOK, req)
}

// partStates are the states a part may be moved to.
var partStates = []access.PartState{access.CheckingAvailability, access.Available, access.Unavailable,
	access.ConditionsIndicated, access.ConditionsMet, access.MadeAvailable, access.NotMadeAvailable}

func parseState(s string) (access.PartState, error) {
	st := access.PartState(s)
	if !slices.Contains(partStates, st) {
		return "", &access.FieldError{Field: "state", Msg: fmt.Sprintf("%q is not a state a part can be moved to", s)}
	}
	return st, nil
}

func (h *Hub) apiMovePart(w http.ResponseWriter, r *http.Request, a access.Actor) {
	var in struct {
		State string `json:"state"`
	}
	if err := readJSON(r, &in); err != nil {
		h.accessError(w, err)
		return
	}
	st, err := parseState(in.State)
	if err != nil {
		h.accessError(w, err)
		return
	}
	req, err := h.access.MovePart(r.Context(), a, r.PathValue("id"), r.PathValue("node"), r.PathValue("dataset"), st)
	if err != nil {
		h.accessError(w, err)
		return
	}
	httpx.JSON(w, http.StatusOK, req)
}

func (h *Hub) apiMessage(w http.ResponseWriter, r *http.Request, a access.Actor) {
	var in struct {
		Text string `json:"text"`
		Node string `json:"node"`
	}
	if err := readJSON(r, &in); err != nil {
		h.accessError(w, err)
		return
	}
	req, err := h.access.AddMessage(r.Context(), a, r.PathValue("id"), in.Node, in.Text)
	if err != nil {
		h.accessError(w, err)
		return
	}
	httpx.JSON(w, http.StatusCreated, req)
}

func (h *Hub) apiAbandon(w http.ResponseWriter, r *http.Request, a access.Actor) {
	req, err := h.access.Abandon(r.Context(), a, r.PathValue("id"))
	if err != nil {
		h.accessError(w, err)
		return
	}
	httpx.JSON(w, http.StatusOK, req)
}

func (h *Hub) apiReview(w http.ResponseWriter, r *http.Request, a access.Actor) {
	var in struct {
		Approve *bool `json:"approve"`
	}
	if err := readJSON(r, &in); err != nil {
		h.accessError(w, err)
		return
	}
	if in.Approve == nil {
		h.accessError(w, &access.FieldError{Field: "approve", Msg: "say true or false"})
		return
	}
	req, err := h.access.Review(r.Context(), a, r.PathValue("id"), *in.Approve)
	if err != nil {
		h.accessError(w, err)
		return
	}
	httpx.JSON(w, http.StatusOK, req)
}

// attach stores an uploaded file in the blob store and records it on request id; the
// content is removed again if the request refuses it.
func (h *Hub) attach(ctx context.Context, a access.Actor, id, name string, body io.Reader) (*access.Request, error) {
	if _, err := h.access.Get(ctx, a, id); err != nil {
		return nil, err
	}
	name = path.Base(strings.ReplaceAll(strings.TrimSpace(name), "\\", "/"))
	if name == "." || name == "/" {
		name = ""
	}
	key := "access/" + id + "/" + auth.RandomSecret(12)
	max := h.cfg.Access.MaxAttachment
	info, err := h.blobs.Put(ctx, key, io.LimitReader(body, max+1))
	if err != nil {
		return nil, fmt.Errorf("storing attachment: %w", err)
	}
	drop := func() {
		if err := h.blobs.Delete(context.WithoutCancel(ctx), key); err != nil {
			h.log.Warn("removing a refused attachment", "key", key, "err", err)
		}
	}
	if info.Size > max {
		drop()
		return nil, errTooLarge{max}
	}
	req, err := h.access.AddAttachment(ctx, a, id, access.Attachment{Name: name, Size: info.Size, SHA256: fmt.Sprintf("%x", info.SHA256), Key: key})
	if err != nil {
		drop()
		return nil, err
	}
	return req, nil
}

type errTooLarge struct{ max int64 }

func (e errTooLarge) Error() string {
	return fmt.Sprintf("the file is larger than the %d bytes an attachment may have", e.max)
}

func (h *Hub) apiAttach(w http.ResponseWriter, r *http.Request, a access.Actor) {
	r.Body = http.MaxBytesReader(w, r.Body, h.cfg.Access.MaxAttachment+1<<20)
	mr, err := r.MultipartReader()
	if err != nil {
		h.accessError(w, &access.FieldError{Field: "file", Msg: "send the file as multipart/form-data in a field named file"})
		return
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			h.accessError(w, &access.FieldError{Field: "file", Msg: "no field named file in the form"})
			return
		}
		if err != nil {
			h.accessError(w, &access.FieldError{Field: "file", Msg: "reading the form: " + err.Error()})
			return
		}
		if part.FormName() != "file" {
			part.Close()
			continue
		}
		req, err := h.attach(r.Context(), a, r.PathValue("id"), part.FileName(), part)
		part.Close()
		var tl errTooLarge
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &tl), errors.As(err, &mbe):
			httpx.Error(w, http.StatusRequestEntityTooLarge, "file: the file is larger than the %d bytes an attachment may have", h.cfg.Access.MaxAttachment)
		case err != nil:
			h.accessError(w, err)
		default:
			httpx.JSON(w, http.StatusCreated, req)
		}
		return
	}
}

// serveAttachment sends an attachment of a request the actor may see.
func (h *Hub) serveAttachment(w http.ResponseWriter, r *http.Request, a access.Actor) {
	req, err := h.access.Get(r.Context(), a, r.PathValue("id"))
	if err != nil {
		h.accessError(w, err)
		return
	}
	name := r.PathValue("name")
	i := slices.IndexFunc(req.Attachments, func(x access.Attachment) bool { return x.Name == name })
	if i < 0 {
		httpx.Error(w, http.StatusNotFound, "request %s has no file %q", req.ID, name)
		return
	}
	at := req.Attachments[i]
	rc, err := h.blobs.Get(r.Context(), at.Key)
	if err != nil {
		if errors.Is(err, blob.ErrNotFound) {
			httpx.Error(w, http.StatusNotFound, "the content of %q is missing", name)
			return
		}
		httpx.Error(w, http.StatusInternalServerError, "%v", err)
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": at.Name}))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", fmt.Sprint(at.Size))
	_, _ = io.Copy(w, rc)
}

func (h *Hub) apiBasket(w http.ResponseWriter, r *http.Request, a access.Actor) {
	b, err := h.access.Basket(r.Context(), a.User)
	if err != nil {
		h.accessError(w, err)
		return
	}
	if b == nil {
		b = []access.BasketItem{}
	}
	httpx.JSON(w, http.StatusOK, map[string]any{"datasets": b})
}

// addToBasket puts a catalogue dataset in a's basket.
func (h *Hub) addToBasket(ctx context.Context, a access.Actor, id string) error {
	parts, err := h.resolve(ctx, []string{id})
	if err != nil {
		var fe *access.FieldError
		if errors.As(err, &fe) {
			fe.Field = "dataset"
		}
		return err
	}
	return h.access.AddToBasket(ctx, a.User, access.BasketItem{Node: parts[0].Node, Dataset: parts[0].Dataset})
}

func (h *Hub) apiBasketAdd(w http.ResponseWriter, r *http.Request, a access.Actor) {
	var in struct {
		Dataset string `json:"dataset"`
	}
	if err := readJSON(r, &in); err != nil {
		h.accessError(w, err)
		return
	}
	if err := h.addToBasket(r.Context(), a, in.Dataset); err != nil {
		h.accessError(w, err)
		return
	}
	h.apiBasket(w, r, a)
}

func (h *Hub) apiBasketRemove(w http.ResponseWriter, r *http.Request, a access.Actor) {
	if err := h.access.RemoveFromBasket(r.Context(), a.User, r.PathValue("dataset")); err != nil {
		h.accessError(w, err)
		return
	}
	h.apiBasket(w, r, a)
}

func (h *Hub) apiVisas(w http.ResponseWriter, r *http.Request, a access.Actor) {
	vs, err := h.access.Visas(r.Context(), a)
	if err != nil {
		h.accessError(w, err)
		return
	}
	if vs == nil {
		vs = []access.Visa{}
	}
	httpx.JSON(w, http.StatusOK, map[string]any{"visas": vs})
}

// revoke revokes a visa and pushes the new revocation list to the nodes.
func (h *Hub) revoke(ctx context.Context, a access.Actor, jti, reason string) (access.Visa, error) {
	v, err := h.access.RevokeVisa(ctx, a, jti, reason, func(v access.Visa, reason string) error {
		return h.visas.Revoke(v.JTI, v.Expires, reason)
	})
	if err != nil {
		return v, err
	}
	h.pushVisaKeys()
	return v, nil
}

func (h *Hub) apiRevoke(w http.ResponseWriter, r *http.Request, a access.Actor) {
	var in struct {
		Reason string `json:"reason"`
	}
	if r.ContentLength != 0 {
		if err := readJSON(r, &in); err != nil {
			h.accessError(w, err)
			return
		}
	}
	v, err := h.revoke(r.Context(), a, r.PathValue("jti"), in.Reason)
	if err != nil {
		h.accessError(w, err)
		return
	}
	httpx.JSON(w, http.StatusOK, v)
}

// passportTTL is how long a passport is valid (never longer than its last visa).
const passportTTL = 24 * time.Hour

// passport signs a passport carrying a's valid visas (at most visa.MaxPassportVisas,
// the newest).
func (h *Hub) passport(ctx context.Context, a access.Actor) (string, []access.Visa, time.Time, error) {
	vs, err := h.access.ValidVisas(ctx, a.User, "")
	if err != nil {
		return "", nil, time.Time{}, err
	}
	if len(vs) > visa.MaxPassportVisas {
		vs = vs[:visa.MaxPassportVisas]
	}
	exp := time.Now().Add(passportTTL)
	var last time.Time
	var toks []string
	for _, v := range vs {
		toks = append(toks, v.Token)
		if v.Expires.After(last) {
			last = v.Expires
		}
	}
	if len(vs) > 0 && last.Before(exp) {
		exp = last
	}
	tok, err := h.visas.IssuePassport(a.User, toks, exp)
	return tok, vs, exp, err
}

func (h *Hub) apiPassport(w http.ResponseWriter, r *http.Request, a access.Actor) {
	tok, vs, exp, err := h.passport(r.Context(), a)
	if err != nil {
		h.accessError(w, err)
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "application/jwt") || r.URL.Query().Get("format") == "jwt" {
		w.Header().Set("Content-Type", "application/jwt")
		w.Header().Set("Cache-Control", "no-store")
		if r.URL.Query().Get("format") == "jwt" {
			w.Header().Set("Content-Disposition", `attachment; filename="passport.jwt"`)
		}
		io.WriteString(w, tok)
		return
	}
	if vs == nil {
		vs = []access.Visa{}
	}
	httpx.JSON(w, http.StatusOK, map[string]any{"passport": tok, "expires": exp.UTC().Truncate(time.Second), "visas": vs})
}

func (h *Hub) apiNotices(w http.ResponseWriter, r *http.Request, a access.Actor) {
	ns, err := h.access.Notices(r.Context(), a.User, 100)
	if err != nil {
		h.accessError(w, err)
		return
	}
	unread := 0
	for _, n := range ns {
		if !n.Read {
			unread++
		}
	}
	if ns == nil {
		ns = []access.Notice{}
	}
	httpx.JSON(w, http.StatusOK, map[string]any{"unread": unread, "notices": ns})
}

func (h *Hub) apiNoticesRead(w http.ResponseWriter, r *http.Request, a access.Actor) {
	if err := h.access.MarkRead(r.Context(), a.User); err != nil {
		h.accessError(w, err)
		return
	}
	httpx.JSON(w, http.StatusOK, map[string]int{"unread": 0})
}

// accessRoutes are the access negotiation's API routes.
func (h *Hub) accessRoutes() []httpx.Route {
	api := h.accessAPI
	return []httpx.Route{
		{Pattern: "POST /api/v1/requests", Handler: api(h.apiSubmit)},
		{Pattern: "GET /api/v1/requests", Handler: api(h.apiRequests)},
		{Pattern: "GET /api/v1/requests/{id}", Handler: api(h.apiRequest)},
		{Pattern: "POST /api/v1/requests/{id}/parts/{node}/{dataset}", Handler: api(h.apiMovePart)},
		{Pattern: "POST /api/v1/requests/{id}/messages", Handler: api(h.apiMessage)},
		{Pattern: "POST /api/v1/requests/{id}/abandon", Handler: api(h.apiAbandon)},
		{Pattern: "POST /api/v1/requests/{id}/review", Handler: api(h.apiReview)},
		{Pattern: "POST /api/v1/requests/{id}/attachments", Handler: api(h.apiAttach)},
		{Pattern: "GET /api/v1/requests/{id}/attachments/{name}", Handler: api(h.serveAttachment)},
		{Pattern: "GET /api/v1/basket", Handler: api(h.apiBasket)},
		{Pattern: "POST /api/v1/basket", Handler: api(h.apiBasketAdd)},
		{Pattern: "DELETE /api/v1/basket/{dataset}", Handler: api(h.apiBasketRemove)},
		{Pattern: "GET /api/v1/visas", Handler: api(h.apiVisas)},
		{Pattern: "POST /api/v1/visas/{jti}/revoke", Handler: api(h.apiRevoke)},
		{Pattern: "GET /api/v1/passport", Handler: api(h.apiPassport)},
		{Pattern: "GET /api/v1/notices", Handler: api(h.apiNotices)},
		{Pattern: "POST /api/v1/notices/read", Handler: api(h.apiNoticesRead)},
	}
}

// attachmentURL is where an attachment of request id is downloaded.
func attachmentURL(id, name string) string {
	return "/api/v1/requests/" + url.PathEscape(id) + "/attachments/" + url.PathEscape(name)
}
