package web

import "time"

// NodesData is the Data of the "nodes" page and of the "nodes-table" partial.
type NodesData struct {
	Nodes []NodeRow // one row per registered node, shown in this order
	Now   time.Time // reference time for "last seen … ago"
}

// NodeRow is one node in the hub's nodes table.
type NodeRow struct {
	Name      string
	State     string    // "online", "offline" or "never" (never connected)
	LastSeen  time.Time // zero if never seen
	Version   string    // the cie version the node reported
	Since     time.Time // when State last changed
	HTTPURL   string    // the node's own HTTP (DICOMweb) address, if it has one
	DIMSE     string    // the node's DIMSE (C-STORE) address, if it has one
	Witnessed uint64    // size of the node's last audit checkpoint the hub witnessed
}

// AuditData is the Data of the "audit" page.
type AuditData struct {
	Origin     string       // the log's origin line
	Size       uint64       // number of entries in the log
	Checkpoint string       // the latest signed checkpoint, as text
	Entries    []AuditRow   // newest first
	Witnessed  []WitnessRow // hub only: the latest witnessed checkpoint per node
	// Queued counts events recorded but not yet in the log (node: searches' events,
	// moved in batches every QueuedEvery).
	Queued      uint64
	QueuedEvery time.Duration
}

// AuditRow is one entry of an audit log.
type AuditRow struct {
	Index   uint64
	Time    time.Time
	Type    string // e.g. "dataset.created", "query", "access.granted"
	Actor   string
	Subject string
	Fields  map[string]string // further details, shown sorted by key
}

// WitnessRow is the latest checkpoint of one node's audit log that the hub
// witnessed.
type WitnessRow struct {
	Node string
	Size uint64
	Time time.Time
	Root string // root hash, as text (hex or base64)
}

// PlaceholderData is the Data of the "placeholder" page, shown for a
// navigation item whose capability is not built yet.
type PlaceholderData struct {
	What  string // e.g. "Federated search"
	Issue string // where the work is tracked: a URL (linked) or a reference such as "#12"; optional
	// About says in one sentence what the capability will do. Empty means the
	// built-in sentence for the hub's navigation items (Catalogue, Search,
	// Requests, Jobs), if What is one of them.
	About string
}

// NodeHomeData is the Data of the node's "node-home" (overview) page.
type NodeHomeData struct {
	Name      string
	Hub       string    // the hub bus URL this node dials
	Connected bool      // connected to the hub now
	Since     time.Time // when Connected last changed (zero if never connected)
	Version   string
	DataDir   string
	AuditSize uint64 // entries in the node's audit log
	Witnessed uint64 // size of the latest checkpoint the hub witnessed
}

// ErrorData is the Data of the "error" page.
type ErrorData struct {
	Status  int    // HTTP status, e.g. 404
	Message string // shown to the user; keep internals out of it
}

// placeholderAbout are the default sentences of the placeholder page, by the
// lower-cased What.
var placeholderAbout = map[string]string{
	"catalogue": "The catalogue will list the datasets the nodes publish, with their DCAT-AP metadata, for anyone to browse.",
	"search":    "Federated search will send one question to every node and show each node's answer, after its disclosure control, as it arrives.",
	"requests":  "Access requests will let researchers ask for datasets and let each data holder decide for its own datasets.",
	"jobs":      "Federated jobs will run statistics, training and evaluation at the nodes, where the data lives, and return only released results.",
}

// LoginData is the data of the "login" page: Next is the local path to go to
// after logging in (empty: the site's home).
type LoginData struct {
	Next string
	// Providers are single sign-on buttons shown above the form (OIDC).
	Providers []LoginProvider
	// NoPassword hides the local password form (when login goes through a
	// provider only).
	NoPassword bool
}

// LoginProvider is a button of the login page that starts a login at an
// identity provider: Name is shown ("Log in with NAME"), URL is where the
// button goes (a GET link on this site).
type LoginProvider struct {
	Name, URL string
}

// TokensData is the Data of the "tokens" page: the user's personal API
// tokens, and the new token right after it was made (shown once).
type TokensData struct {
	Tokens   []TokenRow
	New      string // the token just issued, shown once; empty otherwise
	NewLabel string
}

// TokenRow is one API token (never the token itself).
type TokenRow struct {
	ID, Label        string
	Created, Revoked time.Time // Revoked zero: valid
}

// ArchiveData is the Data of the "archive" page: what the node stores, its recent
// ingests, its quarantine and the result of an upload or a quarantine action.
type ArchiveData struct {
	Patients, Studies, Series, Instances, Bytes uint64
	// DICOMweb is the URL of the node's DICOMweb service; DIMSE its C-STORE address
	// ("AE@host:port"), empty when the node takes no DIMSE.
	DICOMweb, DIMSE string
	Ingests         []IngestRow
	Quarantine      []QuarantineRow
	QuarantineTotal uint64
	RecentStudies   []StudyRow
	// Message reports the result of the last action; Upload that of an upload.
	Message string
	Upload  *UploadResult
}

// IngestRow is one ingest (an association, a request, an upload).
type IngestRow struct {
	Source                                  string
	Started, Ended                          time.Time // Ended zero: still running
	Stored, Duplicates, Quarantined, Failed uint64
	Bytes                                   uint64
}

// QuarantineRow is one quarantined file.
type QuarantineRow struct {
	ID, Source, Name, Reason, Detail string
	Received                         time.Time
	Size                             uint64
}

// StudyRow is one stored study.
type StudyRow struct {
	UID, PatientID, Date, Description, Modalities string
	Series, Instances                             uint64
	// ViewerURL opens its first series in the viewer; empty when there is none.
	ViewerURL string
}

// UploadResult sums up an upload from the archive page.
type UploadResult struct {
	Files, Stored, Duplicates, Quarantined, Failed uint64
	// Problems lists one line per file that was not stored.
	Problems []string
}

// CatalogueData is the Data of the "catalogue" page: a search of the public catalogue.
type CatalogueData struct {
	Query    string
	Total    int // datasets in the catalogue
	Facets   []FacetGroup
	Datasets []DatasetRow
	// Clear is the link that removes every filter.
	Clear string
}

// FacetGroup is one facet of the catalogue search.
type FacetGroup struct {
	Name   string
	Values []FacetRow
}

// FacetRow is one value of a facet; Href toggles it.
type FacetRow struct {
	Label    string
	Count    int
	Selected bool
	Href     string
}

// DatasetRow is one dataset in a list.
type DatasetRow struct {
	ID, Title, Node, Description, Access, State string
	Individuals, Studies                        int
	CancerTypes, Modalities                     string
	Href                                        string
	InBasket                                    bool // in the viewer's basket
}

// DatasetData is the Data of the "dataset" page.
type DatasetData struct {
	DatasetRow
	Keywords, BodyParts, License, Contact, Publisher string
	Version                                          int
	Issued, Modified                                 time.Time
	ContentHash, Interop                             string
	// Links to the machine-readable forms.
	JSON, JSONLD, Turtle string
}

// NodeDatasetsData is the Data of the node's "node-datasets" page.
type NodeDatasetsData struct {
	Datasets []NodeDatasetRow
	// Message reports the result of the last action.
	Message string
	// Hub is where published datasets appear (the hub's catalogue), if known.
	Hub string
	// Form is the form that makes a dataset by hand.
	Form DatasetForm
}

// DatasetForm is what the form to make a dataset offers: the vocabularies of its
// EUCAIM DCAT-AP fields, the node's recent ingests, and default values.
type DatasetForm struct {
	CancerTypes, BodyParts, Modalities []Option
	AccessRights, InteropLevels        []Option
	Ingests                            []Option // value: ingest id
	License, Legislation, Publisher    string
	// Studies are the first studies of the index, to pick from before any search.
	Studies NodeStudyPicks
}

// Option is one choice of a select or checkbox list.
type Option struct{ Value, Label string }

// NodeStudyPicks is the "node-study-picks" fragment: studies to tick for a dataset.
type NodeStudyPicks struct {
	Query   string
	Studies []StudyRow
	// More is true when the search matched more studies than are listed.
	More bool
}

// NodeDatasetRow is one dataset of a node, with the actions its state allows.
type NodeDatasetRow struct {
	ID, Title, State, Access, ContentHash string
	Version, Studies, Individuals         int
	Modified                              time.Time
	Actions                               []string // publish, invalidate, reactivate
}
