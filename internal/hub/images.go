package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cancerimage/cie/internal/auth"
	"github.com/cancerimage/cie/internal/httpx"
	"github.com/cancerimage/cie/internal/hub/access"
	"github.com/cancerimage/cie/internal/web"
)

// The images of a dataset a researcher holds a visa for: its studies and series as the
// dataset's node lists them through the relay, asked with that one visa (so the node
// scopes its answer to that dataset), with links to the viewer and, for a download
// visa, to each study as a ZIP. The hub decides nothing: the node checks the visa.

// imagesPageSize is how many studies one images page (or API answer) lists.
const imagesPageSize = 50

// errNoVisa means the user holds no visa at all for the dataset.
var errNoVisa = errors.New("no visa for this dataset")

// nodeRefusal is a node's (or the relay's) answer other than 200, with its reason.
type nodeRefusal struct {
	Status int
	Reason string
}

func (e *nodeRefusal) Error() string { return e.Reason }

// Granted is what a user may see of a dataset (GET /api/v1/images/{dataset}).
type Granted struct {
	Dataset string `json:"dataset"`
	Title   string `json:"title"`
	Node    string `json:"node"`
	// Access is the access model of the visa used; State its state at the hub
	// ("valid", "expired", "revoked").
	Access  string    `json:"access"`
	State   string    `json:"state"`
	Expires time.Time `json:"expires"`
	JTI     string    `json:"jti"`
	Request string    `json:"request"`
	// DICOMweb is the relayed DICOMweb base of the node at this hub.
	DICOMweb string         `json:"dicomweb"`
	Offset   int            `json:"offset"`
	More     bool           `json:"more"`
	Studies  []GrantedStudy `json:"studies"`
	// visa is the visa asked with (zero if none).
	visa access.Visa
}

// GrantedStudy is one study of a Granted dataset.
type GrantedStudy struct {
	UID          string          `json:"uid"`
	Date         string          `json:"date,omitempty"`
	Description  string          `json:"description,omitempty"`
	Modalities   string          `json:"modalities,omitempty"`
	NumSeries    int             `json:"series_count"`
	NumInstances int             `json:"instance_count"`
	Series       []GrantedSeries `json:"series"`
}

// GrantedSeries is one series of a GrantedStudy.
type GrantedSeries struct {
	UID          string `json:"uid"`
	Modality     string `json:"modality,omitempty"`
	Description  string `json:"description,omitempty"`
	BodyPart     string `json:"body_part,omitempty"`
	Number       int    `json:"number,omitempty"`
	NumInstances int    `json:"instance_count"`
}

// pickVisa returns the visa of user for dataset to ask with: a valid one, a download
// visa before a view visa; else the newest (expired or revoked: the node then says why
// it refuses). vs are newest first.
func pickVisa(vs []access.Visa, user, dataset string, now time.Time) (access.Visa, bool) {
	var best access.Visa
	found := false
	rank := func(v access.Visa) int {
		switch {
		case v.Valid(now) && v.Access == access.Download:
			return 3
		case v.Valid(now) && v.Access == access.View:
			return 2
		case v.Valid(now):
			return 1
		}
		return 0
	}
	for _, v := range vs {
		if v.User != user || v.Dataset != dataset {
			continue
		}
		if !found || rank(v) > rank(best) {
			best, found = v, true
		}
	}
	return best, found
}

// visaState is a visa's state at the hub.
func visaState(v access.Visa, now time.Time) string {
	switch {
	case !v.Revoked.IsZero():
		return "revoked"
	case !now.Before(v.Expires):
		return "expired"
	}
	return "valid"
}

// granted asks dataset's node, through the relay as a, for the studies (from offset)
// and their series that a's visa for dataset shows. base is the relayed DICOMweb base
// the node writes into its answer, for a node. The error is errNoVisa, or a *nodeRefusal (the node
// offline, or its refusal with its reason); g is filled as far as known either way.
func (h *Hub) granted(ctx context.Context, a access.Actor, dataset string, base func(node string) string, offset int) (Granted, error) {
	now := time.Now()
	g := Granted{Dataset: dataset, Title: dataset, Offset: offset, Studies: []GrantedStudy{}}
	if ds, err := (catalogueSource{h}).Dataset(ctx, dataset); err == nil {
		g.Title, g.Node = ds.Title, ds.Node
	}
	vs, err := h.access.Visas(ctx, a)
	if err != nil {
		return g, err
	}
	v, ok := pickVisa(vs, a.User, dataset, now)
	if !ok {
		return g, fmt.Errorf("%w: %s holds no visa for dataset %s; ask for access from its catalogue page", errNoVisa, a.User, dataset)
	}
	g.visa, g.Node, g.Access, g.State, g.Expires, g.JTI, g.Request = v, v.Node, string(v.Access), visaState(v, now), v.Expires, v.JTI, v.Request
	g.DICOMweb = relayPrefix + v.Node + "/dicomweb"
	call := relayCall{Node: v.Node, User: a.User, Role: a.Role, Visas: []string{v.Token}, Accept: "application/dicom+json", BaseURL: base(v.Node)}

	var studies []map[string]qidoAttr
	call.Path, call.Query = "/studies", url.Values{"limit": {strconv.Itoa(imagesPageSize + 1)}, "offset": {strconv.Itoa(offset)}}.Encode()
	if err := h.relayJSON(ctx, call, &studies); err != nil {
		return g, err
	}
	if len(studies) > imagesPageSize {
		studies, g.More = studies[:imagesPageSize], true
	}
	index := map[string]int{}
	var uids []string
	for _, s := range studies {
		st := GrantedStudy{UID: s["0020000D"].str(), Date: s["00080020"].str(), Description: s["00081030"].str(),
			Modalities: strings.Join(s["00080061"].strs(), ", "), NumSeries: s["00201206"].num(), NumInstances: s["00201208"].num()}
		if st.UID == "" {
			continue
		}
		index[st.UID] = len(g.Studies)
		uids = append(uids, st.UID)
		g.Studies = append(g.Studies, st)
	}
	if len(uids) == 0 {
		return g, nil
	}
	var series []map[string]qidoAttr
	call.Path, call.Query = "/series", url.Values{"StudyInstanceUID": {strings.Join(uids, ",")}, "limit": {"10000"}}.Encode()
	if err := h.relayJSON(ctx, call, &series); err != nil {
		return g, err
	}
	for _, s := range series {
		i, ok := index[s["0020000D"].str()]
		if !ok {
			continue
		}
		g.Studies[i].Series = append(g.Studies[i].Series, GrantedSeries{UID: s["0020000E"].str(), Modality: s["00080060"].str(),
			Description: s["0008103E"].str(), BodyPart: s["00180015"].str(), Number: s["00200011"].num(), NumInstances: s["00201209"].num()})
	}
	return g, nil
}

// maxRelayJSON bounds a QIDO answer the hub reads for a page.
const maxRelayJSON = 32 << 20

// relayJSON relays c and decodes the node's JSON answer into v; an answer other than
// 200 is a *nodeRefusal with the node's reason.
func (h *Hub) relayJSON(ctx context.Context, c relayCall, v any) error {
	mw := &memWriter{header: http.Header{}, limit: maxRelayJSON}
	if _, err := h.relayTo(ctx, mw, c); err != nil {
		return &nodeRefusal{Status: http.StatusBadGateway, Reason: fmt.Sprintf("node %s: %v", c.Node, err)}
	}
	if mw.status != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		reason := strings.TrimSpace(mw.buf.String())
		if json.Unmarshal(mw.buf.Bytes(), &e) == nil && e.Error != "" {
			reason = e.Error
		}
		return &nodeRefusal{Status: mw.status, Reason: reason}
	}
	if err := json.Unmarshal(mw.buf.Bytes(), v); err != nil {
		return &nodeRefusal{Status: http.StatusBadGateway, Reason: fmt.Sprintf("node %s answered %s %s with something other than DICOM JSON: %v", c.Node, c.Path, c.Query, err)}
	}
	return nil
}

// memWriter is an http.ResponseWriter that keeps the answer in memory, up to limit bytes.
type memWriter struct {
	header http.Header
	status int
	buf    bytes.Buffer
	limit  int
}

func (m *memWriter) Header() http.Header { return m.header }

func (m *memWriter) WriteHeader(status int) {
	if m.status == 0 {
		m.status = status
	}
}

func (m *memWriter) Write(p []byte) (int, error) {
	if m.status == 0 {
		m.status = http.StatusOK
	}
	if m.buf.Len()+len(p) > m.limit {
		return 0, fmt.Errorf("the answer is larger than %d bytes", m.limit)
	}
	return m.buf.Write(p)
}

// qidoAttr is an attribute of a QIDO-RS answer (DICOM JSON).
type qidoAttr struct {
	Value []any `json:"Value"`
}

// strs returns the attribute's values as strings (numbers formatted, a person name
// by its alphabetic group).
func (a qidoAttr) strs() []string {
	var out []string
	for _, v := range a.Value {
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case float64:
			out = append(out, strconv.FormatFloat(x, 'f', -1, 64))
		case map[string]any:
			if s, ok := x["Alphabetic"].(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

func (a qidoAttr) str() string {
	if s := a.strs(); len(s) > 0 {
		return s[0]
	}
	return ""
}

func (a qidoAttr) num() int {
	if len(a.Value) > 0 {
		switch x := a.Value[0].(type) {
		case float64:
			return int(x)
		case string:
			n, _ := strconv.Atoi(strings.TrimSpace(x))
			return n
		}
	}
	return 0
}

// imagesHref is the images page of a dataset.
func imagesHref(dataset string) string { return "/images/" + url.PathEscape(dataset) }

// studyZipHref is the relayed retrieve of a study as a ZIP (the accept query
// parameter of PS3.18 8.3.3.1, so that a plain link asks for it).
func studyZipHref(node, study string) string {
	return relayPrefix + node + "/dicomweb/studies/" + url.PathEscape(study) + "?accept=" + url.QueryEscape("application/zip")
}

// offsetParam reads the offset query parameter (0 when absent or bad).
func offsetParam(r *http.Request) int {
	n, err := strconv.Atoi(r.URL.Query().Get("offset"))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// refusalStatus is the HTTP status for an error of granted.
func refusalStatus(err error) int {
	var nr *nodeRefusal
	switch {
	case errors.Is(err, errNoVisa):
		return http.StatusForbidden
	case errors.As(err, &nr):
		return nr.Status
	}
	return http.StatusInternalServerError
}

// imagesPage serves GET /images/{dataset}.
func (h *Hub) imagesPage(w http.ResponseWriter, r *http.Request) {
	a, ok := h.pageActor(w, r)
	if !ok {
		return
	}
	dataset := r.PathValue("dataset")
	g, err := h.granted(r.Context(), a, dataset, func(node string) string { return h.relayBase(r, node) }, offsetParam(r))
	if errors.Is(err, errNoVisa) {
		h.gate.RenderError(w, r, http.StatusForbidden, "You hold no visa for dataset "+dataset+". Ask for access from its catalogue page.")
		return
	}
	d := web.ImagesData{Dataset: g.Dataset, Title: g.Title, Node: g.Node, CatalogueHref: "/catalogue/" + url.PathEscape(dataset),
		Visa: visaRow(a, g.visa), CanDownload: g.visa.Access == access.Download && g.State == "valid", Offset: g.Offset}
	status := http.StatusOK
	if err != nil {
		status = refusalStatus(err)
		d.Error = h.refusalMessage(g, err)
	}
	back := imagesHref(dataset)
	for _, st := range g.Studies {
		row := web.ImagesStudy{UID: st.UID, Date: st.Date, Description: st.Description, Modalities: st.Modalities,
			NumSeries: st.NumSeries, NumInstances: st.NumInstances}
		if d.CanDownload {
			row.DownloadHref = studyZipHref(g.Node, st.UID)
		}
		for _, se := range st.Series {
			view := h.viewer.URL(g.DICOMweb, st.UID, se.UID) + "&back=" + url.QueryEscape(back) + "&title=" + url.QueryEscape(g.Title)
			row.Series = append(row.Series, web.ImagesSeries{UID: se.UID, Modality: se.Modality, Description: se.Description,
				BodyPart: se.BodyPart, Number: se.Number, NumInstances: se.NumInstances, ViewHref: view})
		}
		d.Studies = append(d.Studies, row)
	}
	if g.Offset > 0 {
		d.Prev = back + "?offset=" + strconv.Itoa(max(0, g.Offset-imagesPageSize))
	}
	if g.More {
		d.Next = back + "?offset=" + strconv.Itoa(g.Offset+imagesPageSize)
	}
	h.gate.Render(w, r, status, "images", "", g.Title, d)
}

// refusalMessage says why the images of g cannot be shown: the visa's state at the hub
// when it is no longer valid, and the node's own reason.
func (h *Hub) refusalMessage(g Granted, err error) string {
	var msg []string
	switch g.State {
	case "revoked":
		s := "Your visa for " + g.Dataset + " was revoked on " + g.visa.Revoked.Format("2006-01-02 15:04 MST")
		if g.visa.Reason != "" {
			s += " (" + g.visa.Reason + ")"
		}
		msg = append(msg, s+".")
	case "expired":
		msg = append(msg, "Your visa for "+g.Dataset+" expired on "+g.visa.Expires.Format("2006-01-02 15:04 MST")+"; ask for access again.")
	}
	var nr *nodeRefusal
	switch {
	case errors.As(err, &nr) && nr.Status == http.StatusBadGateway:
		msg = append(msg, "Node "+g.Node+" cannot be reached now ("+nr.Reason+"). Try again when it is back online.")
	case errors.As(err, &nr) && nr.Status == http.StatusGatewayTimeout:
		msg = append(msg, "Node "+g.Node+" did not answer in time ("+nr.Reason+"). Try again later.")
	case errors.As(err, &nr):
		msg = append(msg, fmt.Sprintf("Node %s refused (%d): %s", g.Node, nr.Status, nr.Reason))
	default:
		msg = append(msg, err.Error())
	}
	return strings.Join(msg, " ")
}

// apiImages serves GET /api/v1/images/{dataset}: the studies and series of a dataset the
// caller holds a visa for, as its node lists them for that visa.
func (h *Hub) apiImages(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	a, err := h.actor(r.Context(), p)
	if err != nil {
		httpx.Error(w, http.StatusInternalServerError, "%v", err)
		return
	}
	g, err := h.granted(r.Context(), a, r.PathValue("dataset"), func(node string) string { return h.relayBase(r, node) }, offsetParam(r))
	if err != nil {
		status := refusalStatus(err)
		if status == http.StatusInternalServerError {
			h.log.Error("images", "dataset", r.PathValue("dataset"), "err", err)
		}
		msg := err.Error()
		if g.visa.JTI != "" {
			msg = h.refusalMessage(g, err)
		}
		httpx.Error(w, status, "%s", msg)
		return
	}
	httpx.JSON(w, http.StatusOK, g)
}
