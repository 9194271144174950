package hub

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/cancerimage/cie/internal/auth"
	"github.com/cancerimage/cie/internal/fed"
	"github.com/cancerimage/cie/internal/httpx"
	"github.com/cancerimage/cie/internal/query"
)

// Beacon v2 "individuals" on the hub, answered by the same fan-out as /api/v1/search.
//
// Filters are mapped onto the query vocabulary (query.LookupKey) and ANDed, as Beacon
// defines:
//
//   - an ontology filter {"id": CURIE} naming a code of the vocabulary is an EQUALS
//     condition on that code's key: "SNOMEDCT:248152002" is Gender = female,
//     "SNOMEDCT:254837009" Diagnosis = breast cancer, "RADLEX:RID10312" Modality = MR,
//     "SNOMEDCT:76752008" Body part = breast, "NCIT:C200140" Manufacturer = Siemens;
//   - an alphanumeric filter {"id": CURIE of a key, "operator", "value"}: on a number
//     key ("SNOMEDCT:423493009" age at diagnosis, "SNOMEDCT:432213005" year of
//     diagnosis) the operators = < <= > >= ! are EQUALS, LOWER_THAN, …, NOT_EQUALS of
//     the number; on a coded key, = and ! with a code's CURIE as the value are EQUALS
//     and NOT_EQUALS (needed for codes several keys share, such as the hyper-ontology's
//     "positive").
//
// CURIE prefixes: SNOMEDCT (also SCTID, SNOMED), RADLEX, NCIT, BIRNLEX, EUCAIM (the
// EUCAIM hyper-ontology). Descendant terms and similarity are not expanded (the
// vocabulary is flat); a filter that maps to nothing is a 400 naming it, never a
// silent zero. Granularity "boolean" answers exists; "count" (and "record", which is
// never given) numTotalResults: the sum of the subjects the nodes release, where a
// suppressed count ("< 10") adds nothing and makes the count imprecise.

// beaconAPIVersion is the Beacon version of the answers.
const beaconAPIVersion = "v2.0.0"

// curiePrefixes maps CURIE prefixes to the vocabulary's code systems.
var curiePrefixes = map[string]string{
	"SNOMEDCT": "http://snomed.info/sct",
	"SCTID":    "http://snomed.info/sct",
	"SNOMED":   "http://snomed.info/sct",
	"RADLEX":   "http://radlex.org",
	"NCIT":     "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl",
	"BIRNLEX":  "http://bioontology.org/projects/ontologies/birnlex",
	"EUCAIM":   "urn:eucaim:hyper-ontology:V1.0",
}

// codeRef is a code of the vocabulary: a key's own concept (term empty) or a term of it.
type codeRef struct{ key, term string }

// curieIndex maps "system|code" to the keys and terms with that code.
var curieIndex = func() map[string][]codeRef {
	m := map[string][]codeRef{}
	for _, name := range query.Keys() {
		k, _ := query.LookupKey(name)
		m[k.System+"|"+k.Code] = append(m[k.System+"|"+k.Code], codeRef{key: k.Key})
		for _, t := range k.Terms {
			m[t.System+"|"+t.Code] = append(m[t.System+"|"+t.Code], codeRef{key: k.Key, term: t.Key})
		}
	}
	return m
}()

// lookupCURIE finds what a CURIE names in the vocabulary.
func lookupCURIE(curie string) ([]codeRef, error) {
	prefix, code, ok := strings.Cut(strings.TrimSpace(curie), ":")
	if !ok || code == "" {
		return nil, fmt.Errorf("%q is not a CURIE (prefix:code)", curie)
	}
	system, ok := curiePrefixes[strings.ToUpper(prefix)]
	if !ok {
		return nil, fmt.Errorf("unknown CURIE prefix %q in %q (known: SNOMEDCT, RADLEX, NCIT, BIRNLEX, EUCAIM)", prefix, curie)
	}
	refs := curieIndex[system+"|"+code]
	if len(refs) == 0 {
		return nil, fmt.Errorf("%q is not a code of the search vocabulary", curie)
	}
	return refs, nil
}

// BeaconRequest is the body of a Beacon v2 POST request (the parts cie reads).
type BeaconRequest struct {
	Meta struct {
		APIVersion       string            `json:"apiVersion"`
		RequestedSchemas []json.RawMessage `json:"requestedSchemas"`
	} `json:"meta"`
	Query struct {
		Filters              []BeaconFilter  `json:"filters"`
		RequestedGranularity string          `json:"requestedGranularity"`
		Pagination           json.RawMessage `json:"pagination,omitempty"`
		TestMode             bool            `json:"testMode,omitempty"`
	} `json:"query"`
}

// BeaconFilter is an ontology, alphanumeric or custom filter; a plain string is read
// as {"id": string}.
type BeaconFilter struct {
	ID                     string `json:"id"`
	Operator               string `json:"operator,omitempty"`
	Value                  any    `json:"value,omitempty"`
	Scope                  string `json:"scope,omitempty"`
	IncludeDescendantTerms *bool  `json:"includeDescendantTerms,omitempty"`
	Similarity             string `json:"similarity,omitempty"`
}

// UnmarshalJSON reads a filter object or a bare CURIE.
func (f *BeaconFilter) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*f = BeaconFilter{ID: s}
		return nil
	}
	type plain BeaconFilter
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*f = BeaconFilter(p)
	return nil
}

// beaconOps maps Beacon's alphanumeric operators to the query's.
var beaconOps = map[string]query.Type{
	"=": query.Equals, "!": query.NotEquals, "<": query.LowerThan, "<=": query.LowerThanOrEqual,
	">": query.GreaterThan, ">=": query.GreaterThanOrEqual,
}

// beaconError is a filter that cannot be mapped, with where it is.
type beaconError struct{ path, msg string }

func (e *beaconError) Error() string { return e.msg + " (at " + e.path + ")" }

// beaconQuery maps Beacon filters onto a EUCAIM query: the AND of one condition per
// filter.
func beaconQuery(filters []BeaconFilter) ([]byte, error) {
	leaves := []map[string]any{}
	for i, f := range filters {
		path := "/query/filters/" + strconv.Itoa(i)
		refs, err := lookupCURIE(f.ID)
		if err != nil {
			return nil, &beaconError{path + "/id", err.Error()}
		}
		if f.Operator == "" && f.Value == nil { // an ontology filter: a code
			var terms []codeRef
			for _, r := range refs {
				if r.term != "" {
					terms = append(terms, r)
				}
			}
			switch {
			case len(terms) == 0:
				k, _ := query.LookupKey(refs[0].key)
				return nil, &beaconError{path, fmt.Sprintf("%s names the key %q: give an operator and a value", f.ID, k.Name)}
			case len(terms) > 1:
				return nil, &beaconError{path, fmt.Sprintf("%s is a code of %d keys: use {\"id\": <the key's CURIE>, \"operator\": \"=\", \"value\": %q}", f.ID, len(terms), f.ID)}
			}
			leaves = append(leaves, map[string]any{"key": terms[0].key, "type": string(query.Equals), "value": terms[0].term})
			continue
		}
		var key *query.Key
		for _, r := range refs {
			if r.term == "" {
				key, _ = query.LookupKey(r.key)
			}
		}
		if key == nil {
			return nil, &beaconError{path + "/id", fmt.Sprintf("%s is a code, not a key: an alphanumeric filter names a key", f.ID)}
		}
		op, ok := beaconOps[f.Operator]
		if !ok {
			return nil, &beaconError{path + "/operator", fmt.Sprintf("operator %q: want one of = ! < <= > >=", f.Operator)}
		}
		leaf := map[string]any{"key": key.Key, "type": string(op)}
		if key.Field == query.FieldNumber {
			var n float64
			switch v := f.Value.(type) {
			case float64:
				n = v
			case string:
				if n, err = strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil {
					return nil, &beaconError{path + "/value", fmt.Sprintf("%q is not a number", v)}
				}
			default:
				return nil, &beaconError{path + "/value", fmt.Sprintf("want a number for %s (%s)", f.ID, key.Name)}
			}
			leaf["value"] = n
		} else {
			s, _ := f.Value.(string)
			if op != query.Equals && op != query.NotEquals {
				return nil, &beaconError{path + "/operator", fmt.Sprintf("%s (%s) takes = or !", f.ID, key.Name)}
			}
			vrefs, err := lookupCURIE(s)
			if err != nil {
				return nil, &beaconError{path + "/value", err.Error()}
			}
			term := ""
			for _, r := range vrefs {
				if r.key == key.Key && r.term != "" {
					term = r.term
				}
			}
			if term == "" {
				return nil, &beaconError{path + "/value", fmt.Sprintf("%s is not a code of %s (%s)", s, f.ID, key.Name)}
			}
			leaf["value"] = term
		}
		leaves = append(leaves, leaf)
	}
	return json.Marshal(map[string]any{"ast": map[string]any{"operand": "AND", "children": leaves}})
}

// beaconMeta is the meta section of a Beacon response.
func (h *Hub) beaconMeta(req *BeaconRequest, granularity string) map[string]any {
	ids := make([]string, 0, len(req.Query.Filters))
	for _, f := range req.Query.Filters {
		ids = append(ids, f.ID)
	}
	schemas := req.Meta.RequestedSchemas
	if schemas == nil {
		schemas = []json.RawMessage{}
	}
	requested := req.Query.RequestedGranularity
	if requested == "" {
		requested = "boolean"
	}
	apiVersion := req.Meta.APIVersion
	if apiVersion == "" {
		apiVersion = beaconAPIVersion
	}
	return map[string]any{
		"beaconId":            "cie." + h.cfg.Name,
		"apiVersion":          beaconAPIVersion,
		"returnedGranularity": granularity,
		"returnedSchemas":     []map[string]string{{"entityType": "individual", "schema": "beacon-individual-v2.0.0"}},
		"receivedRequestSummary": map[string]any{
			"apiVersion": apiVersion, "requestedSchemas": schemas, "filters": ids,
			"requestedGranularity": requested, "pagination": map[string]int{"skip": 0, "limit": 0},
		},
		"testMode": req.Query.TestMode,
	}
}

// apiBeaconIndividuals serves POST /api/v1/beacon/individuals.
func (h *Hub) apiBeaconIndividuals(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if !h.csrfOK(r, p) {
		httpx.Error(w, http.StatusForbidden, "missing or wrong CSRF token: send the page's token in X-CSRF-Token")
		return
	}
	var req BeaconRequest
	fail := func(status int, path, msg string) {
		httpx.JSON(w, status, map[string]any{
			"meta":  h.beaconMeta(&req, "boolean"),
			"error": map[string]any{"errorCode": status, "errorMessage": msg, "path": path},
		})
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxQueryBody))
	if err != nil {
		fail(http.StatusRequestEntityTooLarge, "", "reading the request: "+err.Error())
		return
	}
	if len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		if err := dec.Decode(&req); err != nil {
			fail(http.StatusBadRequest, "", "the request is not a Beacon request: "+err.Error())
			return
		}
	}
	granularity := req.Query.RequestedGranularity
	switch granularity {
	case "", "boolean":
		granularity = "boolean"
	case "count", "record":
		granularity = "count" // records never leave a node
	default:
		fail(http.StatusBadRequest, "/query/requestedGranularity", fmt.Sprintf("granularity %q: want boolean, count or record", granularity))
		return
	}
	qbody, err := beaconQuery(req.Query.Filters)
	if err != nil {
		path := ""
		if be, ok := err.(*beaconError); ok {
			path = be.path
		}
		fail(http.StatusBadRequest, path, err.Error())
		return
	}
	q, err := query.Parse(qbody)
	if err != nil {
		fail(http.StatusBadRequest, "/query/filters", "the filters make no valid query: "+err.Error())
		return
	}
	res, err := h.search(r.Context(), p, qbody, q, func(searchStart) {}, func(NodeResult) {})
	if err != nil {
		fail(http.StatusInternalServerError, "", err.Error())
		return
	}
	summary := map[string]any{"exists": res.Subjects.Exact > 0}
	if granularity == "count" {
		summary["numTotalResults"] = res.Subjects.Exact
		precision := "imprecise" // nodes add noise
		if res.Subjects.Suppressed > 0 {
			summary["countAdjustedTo"] = []string{"< " + strconv.Itoa(res.Subjects.Below) + " per dataset suppressed"}
		}
		summary["countPrecision"] = precision
	}
	nodes := make([]map[string]any, 0, len(res.Nodes))
	for _, n := range res.Nodes {
		e := map[string]any{"node": n.Node, "status": n.Status}
		if n.Message != "" {
			e["message"] = n.Message
		}
		if n.Status == fed.SearchOK && granularity == "count" {
			e["subjects"] = n.Subjects
		}
		if len(n.Unsupported) > 0 {
			e["unsupported"] = n.Unsupported
		}
		nodes = append(nodes, e)
	}
	httpx.JSON(w, http.StatusOK, map[string]any{
		"meta":            h.beaconMeta(&req, granularity),
		"responseSummary": summary,
		"info": map[string]any{"cie": map[string]any{
			"search": res.ID, "hash": res.Hash, "query": json.RawMessage(res.Query), "nodes": nodes,
		}},
	})
}
