package fed

import (
	"encoding/json"
	"time"

	"github.com/cancerimage/cie/internal/disclosure"
)

// Federated search. The hub sends a SearchRequest to every node as a bus request on
// SearchSubject(node) and waits for each SearchAnswer until the request's deadline; a
// node that does not answer in time is shown as such. The node parses and checks the
// query itself (package query), evaluates it on its own index and clinical data, applies
// its disclosure policy (package disclosure) and answers per published dataset. The
// public atlas works the same way with AtlasRequest and AtlasAnswer on AtlasSubject.

// SearchSubject is where the hub asks a node a federated search.
func SearchSubject(node string) string { return HubPrefix + node + ".search" }

// AtlasSubject is where the hub asks a node for its public totals.
func AtlasSubject(node string) string { return HubPrefix + node + ".atlas" }

// SearchRequest is one federated search question.
type SearchRequest struct {
	Header
	// ID names the search in both audit logs.
	ID string `json:"id"`
	// Researcher is the hub user who asks; noise and the privacy budget are per
	// researcher.
	Researcher string `json:"researcher"`
	// Query is the EUCAIM search as the researcher sent it: {"ast": {...}}.
	Query json.RawMessage `json:"query"`
	// Hash is the hub's query.Hash of Query ("sha256:…"); the node checks it.
	Hash string `json:"hash"`
	// Deadline is when the hub stops waiting.
	Deadline time.Time `json:"deadline"`
}

// Search answer statuses.
const (
	SearchOK      = "ok"      // Collections hold the answer
	SearchRefused = "refused" // the node's policy refused the question (budget, keys): Message says why
	SearchError   = "error"   // the node failed: Message says what
)

// SearchAnswer is a node's answer, in the shape of the EUCAIM explorer's.
type SearchAnswer struct {
	Header
	Node   string `json:"node"`
	Status string `json:"status"`
	// Message explains a refusal or an error.
	Message string `json:"message,omitempty"`
	// Unsupported are the query's keys this node does not evaluate (it answers nothing
	// rather than a silent zero).
	Unsupported []string `json:"unsupported,omitempty"`
	// Collections are the node's published datasets that the query matched.
	Collections []Collection `json:"collections,omitempty"`
	// Budget is the researcher's privacy budget at this node after the answer.
	Budget *Budget `json:"budget,omitempty"`
}

// Collection is one dataset's answer.
type Collection struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Counts as the node's policy releases them: noisy, or "< threshold".
	SubjectsCount disclosure.Count `json:"subjects_count"`
	StudiesCount  disclosure.Count `json:"studies_count"`
	// AgeRange is the age at diagnosis of the matching subjects, omitted when the
	// counts are suppressed.
	AgeRange   *Range   `json:"age_range,omitempty"`
	Gender     []string `json:"gender,omitempty"`
	Modalities []string `json:"modalities,omitempty"`
	BodyParts  []string `json:"body_parts,omitempty"`
}

// Range is a closed range of years.
type Range struct {
	Min int `json:"min"`
	Max int `json:"max"`
}

// Budget is a researcher's privacy budget at a node.
type Budget struct {
	Spent     float64   `json:"spent"`
	Remaining float64   `json:"remaining"`
	Renews    time.Time `json:"renews"`
}

// AtlasRequest asks a node for its public totals (no login, no noise budget: only
// small-cell suppression).
type AtlasRequest struct {
	Header
}

// AtlasAnswer is a node's totals over its published datasets; each map's counts are
// released with small-cell suppression.
type AtlasAnswer struct {
	Header
	Node       string                      `json:"node"`
	Subjects   disclosure.Count            `json:"subjects"`
	Studies    disclosure.Count            `json:"studies"`
	Modality   map[string]disclosure.Count `json:"modality"`
	BodyPart   map[string]disclosure.Count `json:"body_part"`
	CancerType map[string]disclosure.Count `json:"cancer_type"`
	Message    string                      `json:"message,omitempty"`
}
