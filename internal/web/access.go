package web

import "time"

// BasketData is the Data of the hub's "basket" page: the datasets a researcher will ask
// for, and the form of the access request.
type BasketData struct {
	Datasets []BasketRow
	// Form holds what was typed, shown again with Error after a refused submit.
	Form    RequestForm
	Message string
	Error   string
	// Field names the form field Error is about.
	Field string
}

// BasketRow is one dataset in the basket.
type BasketRow struct {
	ID, Title, Node, Href string
}

// RequestForm is what the request form holds.
type RequestForm struct {
	Title, Description, Purpose, Model string
}

// RequestsData is the Data of the hub's "requests" page: the user's requests and, for a
// data holder, the inbox of parts waiting for their decision.
type RequestsData struct {
	Requests []RequestRow
	Inbox    []InboxRow
	Holder   bool // the user is a data holder or node admin of some node
	Nodes    string
	Admin    bool
}

// RequestRow is one request in a list.
type RequestRow struct {
	ID, Title, Researcher, State, Model, Href string
	Created                                   time.Time
	Parts                                     []PartRow
}

// PartRow is one requested dataset; Actions are the states the viewer may move it to.
type PartRow struct {
	Node, Dataset, State, StateLabel, Href string
	// ImagesHref, when not empty, is the page of the dataset's images the viewer holds a
	// visa for.
	ImagesHref string
	Updated    time.Time
	Ended      bool
	Actions    []PartAction
}

// PartAction is a state a part can be moved to.
type PartAction struct {
	State, Label string
}

// InboxRow is a part of a request waiting for the viewer's decision.
type InboxRow struct {
	Request, Title, Researcher, Href string
	Part                             PartRow
}

// RequestData is the Data of the hub's "request" page.
type RequestData struct {
	RequestRow
	Description, Purpose string
	Updated              time.Time
	Messages             []MessageRow
	Attachments          []AttachmentRow
	// WriteAs are the nodes the viewer may write for (as a data holder).
	WriteAs    []string
	CanAbandon bool
	CanReview  bool
	Visas      []VisaRow
	Message    string
	Error      string
	MaxUpload  uint64
}

// MessageRow is one message of a request's conversation.
type MessageRow struct {
	Time         time.Time
	Author, Node string
	Text         string
}

// AttachmentRow is one file of a request.
type AttachmentRow struct {
	Name, Author, SHA256, Href string
	Size                       uint64
}

// NoticesData is the Data of the hub's "notices" page.
type NoticesData struct {
	Notices []NoticeRow
}

// NoticeRow is one notification.
type NoticeRow struct {
	Time       time.Time
	Text, Href string
	Unread     bool
}

// PassportData is the Data of the hub's "passport" page: the visas a researcher holds
// and, for a data holder or platform admin, those they may revoke.
type PassportData struct {
	Visas    []VisaRow
	Valid    int
	Download string // where the passport JWT is downloaded
	Message  string
	Error    string
}

// VisaRow is one issued visa.
type VisaRow struct {
	JTI, User, Node, Dataset, Access, Request, RequestHref, State string
	// ImagesHref is the page of the dataset's images, for the visa's holder.
	ImagesHref      string
	Issued, Expires time.Time
	CanRevoke       bool
}

// ImagesData is the Data of the hub's "images" page: the studies and series of a
// dataset a researcher holds a visa for, as the dataset's node answered through the
// relay for them.
type ImagesData struct {
	Dataset, Title, Node, CatalogueHref string
	// Visa is the visa the page was asked with (the best the user holds).
	Visa VisaRow
	// CanDownload is set when the visa's access model allows downloads.
	CanDownload bool
	Studies     []ImagesStudy
	// Offset is the index of the first study shown; Prev and Next link to the
	// neighbouring pages, when there are.
	Offset     int
	Prev, Next string
	// Error is why the images cannot be shown (node offline, the node's refusal, …).
	Error string
}

// ImagesStudy is one study of the images page.
type ImagesStudy struct {
	UID, Date, Description, Modalities string
	NumSeries, NumInstances            int
	DownloadHref                       string
	Series                             []ImagesSeries
}

// ImagesSeries is one series of a study on the images page.
type ImagesSeries struct {
	UID, Modality, Description, BodyPart string
	Number, NumInstances                 int
	ViewHref                             string
}
