package hub

import (
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/cancerimage/cie/internal/auth"
	"github.com/cancerimage/cie/internal/httpx"
	"github.com/cancerimage/cie/internal/hub/access"
	"github.com/cancerimage/cie/internal/web"
	"github.com/cancerimage/cie/internal/webauth"
)

// The pages of the access negotiation: basket, request form, requests and inbox, a
// request with its conversation and the data holders' actions, notices and passport.
// Their forms post with the session's CSRF token and redirect (303) when done.

// registerAccessPages adds the pages to mux.
func (h *Hub) registerAccessPages(mux httpx.Mux) {
	mux.HandleFunc("GET /basket", h.basketPage)
	mux.HandleFunc("POST /basket", h.basketAdd)
	mux.HandleFunc("POST /basket/remove", h.basketRemove)
	mux.HandleFunc("GET /requests", h.requestsPage)
	mux.HandleFunc("POST /requests", h.requestSubmit)
	mux.HandleFunc("GET /requests/{id}", h.requestPage)
	mux.HandleFunc("POST /requests/{id}/parts", h.requestForm)
	mux.HandleFunc("POST /requests/{id}/messages", h.requestForm)
	mux.HandleFunc("POST /requests/{id}/abandon", h.requestForm)
	mux.HandleFunc("POST /requests/{id}/review", h.requestForm)
	mux.HandleFunc("POST /requests/{id}/attachments", h.requestForm)
	mux.HandleFunc("GET /notices", h.noticesPage)
	mux.HandleFunc("GET /passport", h.passportPage)
	mux.HandleFunc("GET /images/{dataset}", h.imagesPage)
	mux.HandleFunc("POST /visas/{jti}/revoke", h.revokeForm)
	h.gate.Notices = func(r *http.Request, user string) int {
		n, err := h.access.Unread(r.Context(), user)
		if err != nil {
			h.log.Warn("counting notices", "user", user, "err", err)
		}
		return n
	}
}

// pageActor returns the logged-in visitor as an actor, or redirects to the login page.
func (h *Hub) pageActor(w http.ResponseWriter, r *http.Request) (access.Actor, bool) {
	s, ok := h.sessions.Read(r)
	if !ok {
		next := r.URL.Path
		if r.Method != http.MethodGet {
			next = webauth.LocalPath(r.Referer())
			if u, err := url.Parse(r.Referer()); err == nil {
				next = u.RequestURI()
			}
		}
		http.Redirect(w, r, "/login?next="+url.QueryEscape(webauth.LocalPath(next)), http.StatusSeeOther)
		return access.Actor{}, false
	}
	a, err := h.actor(r.Context(), auth.Principal{User: s.User, Role: s.Role, Via: "session"})
	if err != nil {
		h.gate.RenderError(w, r, http.StatusInternalServerError, err.Error())
		return a, false
	}
	return a, true
}

// formActor is pageActor for a form post: the CSRF token must be the session's. A
// multipart form is parsed (files up to access.max_attachment each) before the check.
func (h *Hub) formActor(w http.ResponseWriter, r *http.Request) (access.Actor, bool) {
	a, ok := h.pageActor(w, r)
	if !ok {
		return a, false
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		r.Body = http.MaxBytesReader(w, r.Body, 8*h.cfg.Access.MaxAttachment+1<<20)
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			h.gate.RenderError(w, r, http.StatusRequestEntityTooLarge, "The form could not be read: "+err.Error())
			return a, false
		}
	}
	s, _ := h.sessions.Read(r)
	if !h.sessions.CheckCSRF(r, s) {
		h.gate.RenderError(w, r, http.StatusForbidden, "The form expired or did not come from this site. Reload the page and try again.")
		return a, false
	}
	return a, true
}

func (h *Hub) basketData(r *http.Request, a access.Actor) (web.BasketData, error) {
	var d web.BasketData
	items, err := h.access.Basket(r.Context(), a.User)
	if err != nil {
		return d, err
	}
	for _, it := range items {
		row := web.BasketRow{ID: it.Dataset, Node: it.Node, Title: it.Dataset, Href: "/catalogue/" + url.PathEscape(it.Dataset)}
		if ds, err := (catalogueSource{h}).Dataset(r.Context(), it.Dataset); err == nil {
			row.Title = ds.Title
		}
		d.Datasets = append(d.Datasets, row)
	}
	return d, nil
}

func (h *Hub) basketPage(w http.ResponseWriter, r *http.Request) {
	a, ok := h.pageActor(w, r)
	if !ok {
		return
	}
	d, err := h.basketData(r, a)
	if err != nil {
		h.gate.RenderError(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	if r.URL.Query().Get("added") != "" {
		d.Message = "Added to your basket."
	}
	h.gate.Render(w, r, http.StatusOK, "basket", "requests", "Basket", d)
}

func (h *Hub) basketAdd(w http.ResponseWriter, r *http.Request) {
	a, ok := h.formActor(w, r)
	if !ok {
		return
	}
	if err := h.addToBasket(r.Context(), a, r.PostFormValue("dataset")); err != nil {
		h.gate.RenderError(w, r, accessStatus(err), err.Error())
		return
	}
	next := webauth.LocalPath(r.PostFormValue("next"))
	if next == "" {
		next = "/basket?added=1"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (h *Hub) basketRemove(w http.ResponseWriter, r *http.Request) {
	a, ok := h.formActor(w, r)
	if !ok {
		return
	}
	if err := h.access.RemoveFromBasket(r.Context(), a.User, r.PostFormValue("dataset")); err != nil {
		h.gate.RenderError(w, r, accessStatus(err), err.Error())
		return
	}
	http.Redirect(w, r, "/basket", http.StatusSeeOther)
}

// requestSubmit is the request form: a request from the basket, with its files.
func (h *Hub) requestSubmit(w http.ResponseWriter, r *http.Request) {
	a, ok := h.formActor(w, r)
	if !ok {
		return
	}
	in := draftIn{Title: r.FormValue("title"), Description: r.FormValue("description"), Purpose: r.FormValue("purpose"), Model: r.FormValue("model")}
	var files []*fileUpload
	if r.MultipartForm != nil {
		for _, fh := range r.MultipartForm.File["files"] {
			if fh.Filename == "" && fh.Size == 0 {
				continue
			}
			files = append(files, &fileUpload{fh.Filename, fh})
		}
	}
	fail := func(status int, err error) {
		d, derr := h.basketData(r, a)
		if derr != nil {
			h.gate.RenderError(w, r, http.StatusInternalServerError, derr.Error())
			return
		}
		d.Form = web.RequestForm{Title: in.Title, Description: in.Description, Purpose: in.Purpose, Model: in.Model}
		d.Error = err.Error()
		var fe *access.FieldError
		if errors.As(err, &fe) {
			d.Field, d.Error = fe.Field, fe.Field+": "+fe.Msg
		}
		h.gate.Render(w, r, status, "basket", "requests", "Basket", d)
	}
	for _, f := range files {
		if f.fh.Size > h.cfg.Access.MaxAttachment {
			fail(http.StatusRequestEntityTooLarge, &access.FieldError{Field: "files", Msg: fmt.Sprintf("%s is larger than %d bytes", f.name, h.cfg.Access.MaxAttachment)})
			return
		}
	}
	req, err := h.submit(r.Context(), a, in)
	if err != nil {
		fail(accessStatus(err), err)
		return
	}
	msg := "submitted"
	for _, f := range files {
		fr, err := f.fh.Open()
		if err == nil {
			_, err = h.attach(r.Context(), a, req.ID, f.name, fr)
			fr.Close()
		}
		if err != nil {
			h.log.Warn("attaching a file to a new request", "request", req.ID, "file", f.name, "err", err)
			msg = "attach-failed"
		}
	}
	http.Redirect(w, r, "/requests/"+url.PathEscape(req.ID)+"?done="+msg, http.StatusSeeOther)
}

// actionLabels are the buttons of the part actions.
var actionLabels = map[access.PartState]string{
	access.CheckingAvailability: "Checking availability", access.Available: "Available", access.Unavailable: "Unavailable",
	access.ConditionsIndicated: "Conditions indicated", access.ConditionsMet: "Conditions met",
	access.MadeAvailable: "Make available", access.NotMadeAvailable: "Not made available",
}

func partRow(a access.Actor, r *access.Request, p access.Part) web.PartRow {
	row := web.PartRow{Node: p.Node, Dataset: p.Dataset, State: string(p.State), StateLabel: p.State.Label(), Updated: p.Updated,
		Ended: p.State.Ended(), Href: "/catalogue/" + url.PathEscape(p.Dataset)}
	if p.State == access.MadeAvailable && r.Researcher == a.User {
		row.ImagesHref = imagesHref(p.Dataset)
	}
	if r.State == access.InProgress && holds(a, p.Node) {
		for _, st := range partStates {
			if access.CanMove(p.State, st) {
				row.Actions = append(row.Actions, web.PartAction{State: string(st), Label: actionLabels[st]})
			}
		}
	}
	return row
}

func holds(a access.Actor, node string) bool {
	return (a.Role == auth.RoleDataHolder || a.Role == auth.RoleNodeAdmin) && slices.Contains(a.Nodes, node)
}

func requestRow(a access.Actor, r *access.Request) web.RequestRow {
	row := web.RequestRow{ID: r.ID, Title: r.Title, Researcher: r.Researcher, State: string(r.State), Model: string(r.Model),
		Href: "/requests/" + url.PathEscape(r.ID), Created: r.Created}
	for _, p := range r.Parts {
		row.Parts = append(row.Parts, partRow(a, r, p))
	}
	return row
}

func (h *Hub) requestsPage(w http.ResponseWriter, r *http.Request) {
	a, ok := h.pageActor(w, r)
	if !ok {
		return
	}
	list, err := h.access.List(r.Context(), a)
	if err != nil {
		h.gate.RenderError(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	d := web.RequestsData{Admin: a.Role == auth.RolePlatformAdmin, Nodes: strings.Join(a.Nodes, ", "),
		Holder: (a.Role == auth.RoleDataHolder || a.Role == auth.RoleNodeAdmin) && len(a.Nodes) > 0}
	for _, req := range list {
		row := requestRow(a, req)
		d.Requests = append(d.Requests, row)
		for _, p := range row.Parts {
			if len(p.Actions) > 0 {
				d.Inbox = append(d.Inbox, web.InboxRow{Request: req.ID, Title: req.Title, Researcher: req.Researcher, Href: row.Href, Part: p})
			}
		}
	}
	h.gate.Render(w, r, http.StatusOK, "requests", "requests", "Requests", d)
}

// doneMessages are the flash messages of the request page after a form.
var doneMessages = map[string]string{
	"submitted": "Your request was submitted.", "attach-failed": "Your request was submitted, but a file could not be attached; attach it again below.",
	"moved": "The dataset's state was changed.", "message": "Your message was sent.", "abandoned": "The request was abandoned.",
	"reviewed": "The review was recorded.", "attached": "The files were attached.",
}

func (h *Hub) requestData(r *http.Request, a access.Actor, req *access.Request) (web.RequestData, error) {
	d := web.RequestData{RequestRow: requestRow(a, req), Description: req.Description, Purpose: req.Purpose, Updated: req.Updated,
		CanAbandon: req.Researcher == a.User && slices.Contains([]access.RequestState{access.Submitted, access.UnderReview, access.InProgress}, req.State),
		CanReview:  a.Role == auth.RolePlatformAdmin && req.State == access.UnderReview, MaxUpload: uint64(h.cfg.Access.MaxAttachment)}
	for _, m := range req.Messages {
		d.Messages = append(d.Messages, web.MessageRow{Time: m.Time, Author: m.Author, Node: m.Node, Text: m.Text})
	}
	for _, at := range req.Attachments {
		d.Attachments = append(d.Attachments, web.AttachmentRow{Name: at.Name, Author: at.Author, SHA256: at.SHA256, Size: uint64(at.Size), Href: attachmentURL(req.ID, at.Name)})
	}
	for _, p := range req.Parts {
		if holds(a, p.Node) && !slices.Contains(d.WriteAs, p.Node) {
			d.WriteAs = append(d.WriteAs, p.Node)
		}
	}
	vs, err := h.access.Visas(r.Context(), a)
	if err != nil {
		return d, err
	}
	for _, v := range vs {
		if v.Request == req.ID {
			d.Visas = append(d.Visas, visaRow(a, v))
		}
	}
	d.Message = doneMessages[r.URL.Query().Get("done")]
	return d, nil
}

func visaRow(a access.Actor, v access.Visa) web.VisaRow {
	state := "valid"
	switch {
	case !v.Revoked.IsZero():
		state = "revoked"
	case !time.Now().Before(v.Expires):
		state = "expired"
	}
	row := web.VisaRow{JTI: v.JTI, User: v.User, Node: v.Node, Dataset: v.Dataset, Access: string(v.Access), Request: v.Request,
		RequestHref: "/requests/" + url.PathEscape(v.Request), State: state, Issued: v.Issued, Expires: v.Expires,
		CanRevoke: state == "valid" && (a.Role == auth.RolePlatformAdmin || holds(a, v.Node))}
	if v.User == a.User {
		row.ImagesHref = imagesHref(v.Dataset)
	}
	return row
}

func (h *Hub) requestPage(w http.ResponseWriter, r *http.Request) {
	a, ok := h.pageActor(w, r)
	if !ok {
		return
	}
	req, err := h.access.Get(r.Context(), a, r.PathValue("id"))
	if err != nil {
		h.gate.RenderError(w, r, accessStatus(err), err.Error())
		return
	}
	d, err := h.requestData(r, a, req)
	if err != nil {
		h.gate.RenderError(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	h.gate.Render(w, r, http.StatusOK, "request", "requests", req.Title, d)
}

// requestForm handles the forms of the request page; a refusal shows the page again
// with the reason and the status of the API.
func (h *Hub) requestForm(w http.ResponseWriter, r *http.Request) {
	a, ok := h.formActor(w, r)
	if !ok {
		return
	}
	ctx, id := r.Context(), r.PathValue("id")
	var err error
	done := ""
	switch action := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]; action {
	case "parts":
		var st access.PartState
		if st, err = parseState(r.PostFormValue("state")); err == nil {
			_, err = h.access.MovePart(ctx, a, id, r.PostFormValue("node"), r.PostFormValue("dataset"), st)
		}
		done = "moved"
	case "messages":
		_, err = h.access.AddMessage(ctx, a, id, r.PostFormValue("node"), r.PostFormValue("text"))
		done = "message"
	case "abandon":
		_, err = h.access.Abandon(ctx, a, id)
		done = "abandoned"
	case "review":
		_, err = h.access.Review(ctx, a, id, r.PostFormValue("approve") == "true")
		done = "reviewed"
	case "attachments":
		done = "attached"
		if r.MultipartForm == nil || len(r.MultipartForm.File["files"]) == 0 {
			err = &access.FieldError{Field: "files", Msg: "choose a file to attach"}
			break
		}
		for _, fh := range r.MultipartForm.File["files"] {
			if fh.Size > h.cfg.Access.MaxAttachment {
				err = errTooLarge{h.cfg.Access.MaxAttachment}
				break
			}
			f, ferr := fh.Open()
			if ferr != nil {
				err = ferr
				break
			}
			_, err = h.attach(ctx, a, id, fh.Filename, f)
			f.Close()
			if err != nil {
				break
			}
		}
	}
	if err == nil {
		http.Redirect(w, r, "/requests/"+url.PathEscape(id)+"?done="+done, http.StatusSeeOther)
		return
	}
	status := accessStatus(err)
	if errors.As(err, new(errTooLarge)) {
		status = http.StatusRequestEntityTooLarge
	}
	req, gerr := h.access.Get(ctx, a, id)
	if gerr != nil {
		h.gate.RenderError(w, r, status, err.Error())
		return
	}
	d, derr := h.requestData(r, a, req)
	if derr != nil {
		h.gate.RenderError(w, r, http.StatusInternalServerError, derr.Error())
		return
	}
	d.Message, d.Error = "", err.Error()
	h.gate.Render(w, r, status, "request", "requests", req.Title, d)
}

type fileUpload struct {
	name string
	fh   *multipart.FileHeader
}

func (h *Hub) noticesPage(w http.ResponseWriter, r *http.Request) {
	a, ok := h.pageActor(w, r)
	if !ok {
		return
	}
	ns, err := h.access.Notices(r.Context(), a.User, 200)
	if err != nil {
		h.gate.RenderError(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	var d web.NoticesData
	for _, n := range ns {
		row := web.NoticeRow{Time: n.Time, Text: n.Text, Unread: !n.Read}
		if n.Request != "" {
			row.Href = "/requests/" + url.PathEscape(n.Request)
		}
		d.Notices = append(d.Notices, row)
	}
	// Seen now: the count in the header goes back to zero (this page still shows which
	// were new).
	if err := h.access.MarkRead(r.Context(), a.User); err != nil {
		h.log.Warn("marking notices read", "user", a.User, "err", err)
	}
	h.gate.Render(w, r, http.StatusOK, "notices", "", "Notices", d)
}

func (h *Hub) passportPage(w http.ResponseWriter, r *http.Request) {
	a, ok := h.pageActor(w, r)
	if !ok {
		return
	}
	vs, err := h.access.Visas(r.Context(), a)
	if err != nil {
		h.gate.RenderError(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	d := web.PassportData{Download: "/api/v1/passport?format=jwt"}
	now := time.Now()
	for _, v := range vs {
		d.Visas = append(d.Visas, visaRow(a, v))
		if v.User == a.User && v.Valid(now) {
			d.Valid++
		}
	}
	if r.URL.Query().Get("done") == "revoked" {
		d.Message = "The visa was revoked; the nodes were told."
	}
	h.gate.Render(w, r, http.StatusOK, "passport", "", "Passport", d)
}

func (h *Hub) revokeForm(w http.ResponseWriter, r *http.Request) {
	a, ok := h.formActor(w, r)
	if !ok {
		return
	}
	if _, err := h.revoke(r.Context(), a, r.PathValue("jti"), r.PostFormValue("reason")); err != nil {
		h.gate.RenderError(w, r, accessStatus(err), err.Error())
		return
	}
	http.Redirect(w, r, "/passport?done=revoked", http.StatusSeeOther)
}
