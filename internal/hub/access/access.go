package access

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Errors of the package; callers test them with errors.Is.
var (
	// ErrNotFound is returned for a request that does not exist.
	ErrNotFound = errors.New("no such access request")
	// ErrForbidden is returned when the actor may not do what was asked.
	ErrForbidden = errors.New("not allowed")
	// ErrTransition is returned for a move the life cycle does not allow.
	ErrTransition = errors.New("state change not allowed")
	// ErrInvalid is returned for a request that is incomplete or malformed.
	ErrInvalid = errors.New("invalid access request")
)

// Model is the access model asked for (the EUCAIM data access models).
type Model string

// The access models.
const (
	Download Model = "download" // copy the images
	View     Model = "view"     // in-situ viewing (a virtual research environment)
	Process  Model = "process"  // federated processing only: no image leaves the node
)

// RequestState is the state of a whole request.
type RequestState string

// Request states.
const (
	Submitted   RequestState = "submitted"
	UnderReview RequestState = "under_review"
	InProgress  RequestState = "in_progress"
	Concluded   RequestState = "concluded"
	Abandoned   RequestState = "abandoned"
	Declined    RequestState = "declined"
)

// PartState is the state of one requested dataset.
type PartState string

// Part states (the Negotiator's resource states).
const (
	PartSubmitted        PartState = "submitted"
	CheckingAvailability PartState = "checking_availability"
	Available            PartState = "resource_available"
	Unavailable          PartState = "resource_unavailable"
	ConditionsIndicated  PartState = "access_conditions_indicated"
	ConditionsMet        PartState = "access_conditions_met"
	MadeAvailable        PartState = "resource_made_available"
	NotMadeAvailable     PartState = "resource_not_made_available"
)

// partOrder is the forward order of the positive path; terminal states end a part.
var partOrder = []PartState{PartSubmitted, CheckingAvailability, Available, ConditionsIndicated, ConditionsMet, MadeAvailable}

// Ended reports whether a part in state s is decided.
func (s PartState) Ended() bool {
	return s == MadeAvailable || s == Unavailable || s == NotMadeAvailable
}

// Label is the state as people read it.
func (s PartState) Label() string {
	return strings.ToUpper(string(s[:1])) + strings.ReplaceAll(string(s[1:]), "_", " ")
}

// CanMove reports whether a part may go from state a to state b: forward along the
// positive path, to Unavailable before the resource is available, to NotMadeAvailable
// once conditions were discussed; never out of an ended state.
func CanMove(a, b PartState) bool {
	if a.Ended() || a == b {
		return false
	}
	ia, ib := slices.Index(partOrder, a), slices.Index(partOrder, b)
	switch b {
	case Unavailable:
		return ia >= 0 && ia <= slices.Index(partOrder, CheckingAvailability)
	case NotMadeAvailable:
		return ia >= slices.Index(partOrder, Available)
	}
	return ia >= 0 && ib > ia
}

// Part is one requested dataset.
type Part struct {
	Node    string    `json:"node"`
	Dataset string    `json:"dataset"`
	State   PartState `json:"state"`
	Updated time.Time `json:"updated"`
}

// Message is a message in a request's conversation.
type Message struct {
	Time   time.Time `json:"time"`
	Author string    `json:"author"`
	// Node is set when the author wrote as a data holder of that node.
	Node string `json:"node,omitempty"`
	Text string `json:"text"`
}

// Attachment is a file attached to a request (its content is in the hub's blob store).
type Attachment struct {
	Name   string `json:"name"`
	Author string `json:"author"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Key    string `json:"key"`
}

// Request is an access request.
type Request struct {
	ID          string       `json:"id"`
	Researcher  string       `json:"researcher"`
	Title       string       `json:"title"`
	Description string       `json:"description"`
	Purpose     string       `json:"purpose"`
	Model       Model        `json:"model"`
	State       RequestState `json:"state"`
	Created     time.Time    `json:"created"`
	Updated     time.Time    `json:"updated"`
	Parts       []Part       `json:"parts"`
	Messages    []Message    `json:"messages"`
	Attachments []Attachment `json:"attachments"`
}

// Draft is what a researcher submits.
type Draft struct {
	Title, Description, Purpose string
	Model                       Model
	// Datasets are the basket: node and dataset identifier pairs.
	Datasets []Part
}

// FieldError is an invalid request, naming the field that is wrong; it wraps ErrInvalid.
type FieldError struct {
	Field, Msg string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%v: %s: %s", ErrInvalid, e.Field, e.Msg) }

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Unwrap() error { return ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Check validates a draft, naming the field that is wrong.
func (d Draft) Check() error {
	switch {
	case strings.TrimSpace(d.Title) == "":
		return invalid("title", "the project title is empty")
	case len(d.Title) > 300:
		return invalid("title", "the project title is longer than 300 characters")
	case strings.TrimSpace(d.Description) == "":
		return invalid("description", "the project description is empty")
	case len(d.Description) > 20000:
		return invalid("description", "the project description is longer than 20,000 characters")
	case strings.TrimSpace(d.Purpose) == "":
		return invalid("purpose", "the purpose is empty")
	case len(d.Purpose) > 5000:
		return invalid("purpose", "the purpose is longer than 5,000 characters")
	case d.Model != Download && d.Model != View && d.Model != Process:
		return invalid("model", "access model %q: want download, view or process", d.Model)
	case len(d.Datasets) == 0:
		return invalid("datasets", "the basket is empty")
	case len(d.Datasets) > 500:
		return invalid("datasets", "more than 500 datasets")
	}
	seen := map[[2]string]bool{}
	for _, p := range d.Datasets {
		if p.Node == "" || p.Dataset == "" {
			return invalid("datasets", "a dataset without node or identifier")
		}
		k := [2]string{p.Node, p.Dataset}
		if seen[k] {
			return invalid("datasets", "dataset %s of node %s is in the basket twice", p.Dataset, p.Node)
		}
		seen[k] = true
	}
	return nil
}

// derive returns the request state implied by its parts: Concluded once every part ended.
func (r *Request) derive() {
	if r.State != InProgress {
		return
	}
	for _, p := range r.Parts {
		if !p.State.Ended() {
			return
		}
	}
	r.State = Concluded
}
