package fed

import (
	"fmt"
	"regexp"
	"time"
)

// The DICOMweb relay lets a researcher reach a node's DICOMweb service through the hub,
// for nodes that open no inbound port. It runs over the bus, streamed in chunks with
// credit-based back-pressure, so memory stays bounded on both sides whatever the size:
//
//  1. The hub subscribes to RelayDataSubject(node, id), then publishes a RelayRequest
//     (JSON) on RelaySubject(node).
//  2. The node answers with a stream of messages on RelayDataSubject(node, id), each
//     with the headers RelayKindHeader and RelaySeqHeader (from 0): one "head" (HTTP
//     status in RelayStatusHeader, response headers as "Http-<Name>"), then "data"
//     messages whose payload is the body (at most RelayChunk bytes each), then one
//     "end" (RelayErrorHeader set if the body was cut short).
//  3. The node sends data message n only once the hub has acknowledged message
//     n - RelayRequest.Window; the hub acknowledges each message, after writing it to
//     its client, on RelayAckSubject(node, id) with RelaySeqHeader. An ack with
//     RelayKindHeader "cancel" stops the node (the client went away).
//
// Either side gives up after RelayIdle without progress.

// RelayChunk is the largest body payload of one relay data message.
const RelayChunk = 256 << 10

// RelayWindow is the default number of messages in flight.
const RelayWindow = 8

// RelayIdle is how long either side of a relay waits for the other.
const RelayIdle = 60 * time.Second

// Relay message header names and kinds.
const (
	RelayKindHeader    = "Cie-Kind"
	RelaySeqHeader     = "Cie-Seq"
	RelayStatusHeader  = "Cie-Status"
	RelayErrorHeader   = "Cie-Error"
	RelayVersionHeader = "Cie-V"
	RelayHTTPPrefix    = "Http-"

	RelayHead   = "head"
	RelayData   = "data"
	RelayEnd    = "end"
	RelayAck    = "ack"
	RelayCancel = "cancel"
)

// RelayRequest asks a node to answer one DICOMweb request.
type RelayRequest struct {
	Header
	// ID names the request's data and ack subjects.
	ID string `json:"id"`
	// Method is GET (the relay carries no request bodies).
	Method string `json:"method"`
	// Path is the resource below the DICOMweb root, e.g. "/studies/1.2.3/metadata".
	Path string `json:"path"`
	// Query is the raw query string.
	Query string `json:"query,omitempty"`
	// Accept is the client's Accept header.
	Accept string `json:"accept,omitempty"`
	// User and Role are who the hub authenticated; the node applies its own policy.
	User string `json:"user"`
	Role string `json:"role"`
	// Member is true when the hub vouches that User is a data holder or administrator
	// of this node (a member of it at the hub). The node opens its whole archive to a
	// relayed user only if Member is set and it knows the user itself with such a role:
	// a name alone, which another person may hold at the hub, opens nothing.
	Member bool `json:"member,omitempty"`
	// Visas are the GA4GH visas (JWTs) the hub issued to User for datasets of this node
	// and that have not expired; the node verifies them itself and decides (a node never
	// trusts Role alone for a dataset's images).
	Visas []string `json:"visas,omitempty"`
	// BaseURL is the DICOMweb root as the client sees it through the hub, for the URLs
	// in answers (RetrieveURL, BulkDataURI).
	BaseURL string `json:"base_url"`
	// Window is the number of messages the node may send ahead of acks.
	Window int `json:"window"`
}

var relayIDRE = regexp.MustCompile(`^[a-z0-9]{8,64}$`)

// ValidRelayID reports whether id can name a relay request's subjects.
func ValidRelayID(id string) error {
	if !relayIDRE.MatchString(id) {
		return fmt.Errorf("relay id %q: want 8 to 64 lower-case letters or digits", id)
	}
	return nil
}

// RelaySubject is where the hub sends relay requests to node.
func RelaySubject(node string) string { return HubPrefix + node + ".dicomweb" }

// RelayAckSubject is where the hub acknowledges (or cancels) the stream of request id.
func RelayAckSubject(node, id string) string { return HubPrefix + node + ".dicomweb." + id + ".ack" }

// RelayDataSubject is where the node streams its answer to request id.
func RelayDataSubject(node, id string) string { return NodePrefix + node + ".dicomweb." + id }
