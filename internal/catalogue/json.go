package catalogue

import (
	"encoding/json"
	"errors"
	"fmt"
)

// JSONVersion is the version of the JSON form of a Dataset. Every encoded
// dataset carries it as "v"; a decoder refuses another version. Adding an
// optional field keeps the version; renaming, removing or changing the meaning
// of a field makes a new one.
const JSONVersion = 1

// ErrJSONVersion is wrapped when a dataset's JSON is of another version.
var ErrJSONVersion = errors.New("catalogue: unsupported dataset JSON version")

// datasetFields has the fields of Dataset without its methods.
type datasetFields Dataset

type datasetJSON struct {
	V *int `json:"v"`
	datasetFields
}

// MarshalJSON writes the dataset with its JSON version ("v").
func (d Dataset) MarshalJSON() ([]byte, error) {
	v := JSONVersion
	b, err := json.Marshal(datasetJSON{V: &v, datasetFields: datasetFields(d)})
	if err != nil {
		return nil, fmt.Errorf("catalogue: encoding dataset %q: %w", d.ID, err)
	}
	return b, nil
}

// UnmarshalJSON reads a dataset written by MarshalJSON, refusing a missing or
// other version with ErrJSONVersion. Unknown fields are ignored. It does not
// validate; call Validate.
func (d *Dataset) UnmarshalJSON(b []byte) error {
	var j datasetJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("catalogue: decoding dataset: %w", err)
	}
	if j.V == nil {
		return fmt.Errorf("%w: no \"v\" field", ErrJSONVersion)
	}
	if *j.V != JSONVersion {
		return fmt.Errorf("%w: got %d, want %d", ErrJSONVersion, *j.V, JSONVersion)
	}
	*d = Dataset(j.datasetFields)
	return nil
}
