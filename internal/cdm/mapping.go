package cdm

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"
)

// Mapping tells a CSV import which local column holds which CDM element, in the spirit
// of EUCAIM's CDM mapping template (local variable → entity → element → standard →
// example). It is read from YAML (ReadMapping) or from a CSV template
// (ReadMappingTemplate).
type Mapping struct {
	// PatientID names the column of the patient's ID and how to read it.
	PatientID PatientIDMapping `yaml:"patient_id"`
	// Delimiter is the CSV field separator: "," (default), ";" or "\t".
	Delimiter string `yaml:"delimiter,omitempty"`
	// Columns map local columns to CDM elements; columns not listed are ignored.
	Columns []ColumnMapping `yaml:"columns"`
}

// PatientIDMapping says where a CSV's patient IDs are and what they are.
type PatientIDMapping struct {
	Column string `yaml:"column"`
	// Pseudonymized is true when the column holds the node's pseudonyms already (as
	// cie deid and the node's index show them); false (default) when it holds the
	// hospital's patient IDs, which the import turns into the node's pseudonyms with the
	// node's key, as the de-identification does for DICOM files.
	Pseudonymized bool `yaml:"pseudonymized,omitempty"`
	// Issuers are the Issuer of Patient ID (0010,0021) values the patient's DICOM files
	// carry: the pseudonym depends on issuer and ID. Each row is written for each issuer
	// (a hospital whose departments issue IDs under different names lists them all);
	// none means the empty issuer.
	Issuers []string `yaml:"issuers,omitempty"`
}

// ColumnMapping maps one local column to one CDM element.
type ColumnMapping struct {
	// Column is the local column's name, as in the CSV header.
	Column string `yaml:"column"`
	// Element is "entity.element", e.g. "patient.birth_sex", "cancer_condition.code",
	// "tumor_marker_test.value", "cancer_stage.t" (see Elements).
	Element string `yaml:"element"`
	// System is the code system of the column's codes (SNOMEDCT, LOINC, ICD-10, ICD-O-3,
	// NCIT, EUCAIM or a URI); codes written with a prefix ("SNOMEDCT248152002") need none.
	System string `yaml:"system,omitempty"`
	// Example is a value as the column holds it (documentation only).
	Example string `yaml:"example,omitempty"`
	// Values maps local values to standard codes, e.g. "F": "SNOMEDCT248152002". When
	// given, a value not in it is an error of its line.
	Values map[string]string `yaml:"values,omitempty"`
	// Test is the tumor marker test of a tumor_marker_test.value column, e.g.
	// "LOINC2857-1" (PSA).
	Test string `yaml:"test,omitempty"`
	// Type of a tumor_marker_test.value: "code", "number" or "text"; by default "code"
	// with Values or System, "number" with Unit, "text" otherwise.
	Type string `yaml:"type,omitempty"`
	// Unit of a numeric value (UCUM), e.g. "ng/mL".
	Unit string `yaml:"unit,omitempty"`
	// DateColumn names the column holding the date of a marker, grade, stage or
	// treatment (YYYY-MM-DD).
	DateColumn string `yaml:"date_column,omitempty"`
	// Display names the column holding a display text of a code column.
	Display string `yaml:"display_column,omitempty"`
}

// Elements lists the CDM elements a mapping may name.
var Elements = []string{
	"patient.birth_sex", "patient.birth_year", "patient.birth_date", "patient.vital_status", "patient.last_follow_up",
	"cancer_condition.code", "cancer_condition.age_at_diagnosis", "cancer_condition.date_of_diagnosis",
	"cancer_condition.year_of_diagnosis", "cancer_condition.morphology", "cancer_condition.topography",
	"tumor_marker_test.value", "histologic_grade.value",
	"cancer_stage.t", "cancer_stage.n", "cancer_stage.m", "cancer_stage.group",
	"treatment.procedure", "treatment.surgery", "treatment.radiotherapy", "treatment.medication",
	"image_study.study_uid", "image_study.time_point", "image_study.offset_days",
	"ignore",
}

// Limits of a mapping.
const (
	maxMappingSize = 1 << 20
	maxColumns     = 1000
)

// ReadMapping reads a mapping: YAML, or a CSV template when its first line starts with
// "local_variable" (see ReadMappingTemplate).
func ReadMapping(r io.Reader) (*Mapping, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxMappingSize+1))
	if err != nil {
		return nil, fmt.Errorf("cdm: reading mapping: %w", err)
	}
	if len(b) > maxMappingSize {
		return nil, fmt.Errorf("cdm: mapping larger than %d bytes", maxMappingSize)
	}
	if bytes.HasPrefix(bytes.TrimLeft(b, "\ufeff \t\r\n"), []byte("local_variable")) {
		return ReadMappingTemplate(bytes.NewReader(b))
	}
	var m Mapping
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("cdm: mapping: %w", err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// ReadMappingTemplate reads a mapping written as a CSV template, one row per local
// column, with the header
//
//	local_variable,entity,element,standard,example,value_map,options
//
// value_map is "local=CODE|local=CODE" (e.g. "F=SNOMEDCT248152002|M=SNOMEDCT248153007"),
// options "name=value;name=value" with the names test, type, unit, date_column and
// display_column. The patient's ID is the row with entity "patient" and element "id";
// its options may say pseudonymized=true and issuers=A|B.
func ReadMappingTemplate(r io.Reader) (*Mapping, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("cdm: mapping template: %w", err)
	}
	idx := map[string]int{}
	for i, h := range header {
		idx[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	for _, need := range []string{"local_variable", "entity", "element"} {
		if _, ok := idx[need]; !ok {
			return nil, fmt.Errorf("cdm: mapping template: no column %q in the header", need)
		}
	}
	get := func(rec []string, name string) string {
		if i, ok := idx[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	var m Mapping
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("cdm: mapping template: %w", err)
		}
		line, _ := cr.FieldPos(0)
		opts := map[string]string{}
		for _, kv := range strings.Split(get(rec, "options"), ";") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				opts[strings.TrimSpace(k)] = strings.TrimSpace(v)
			} else if strings.TrimSpace(kv) != "" {
				return nil, fmt.Errorf("cdm: mapping template line %d: option %q is not name=value", line, kv)
			}
		}
		entity, element := strings.ToLower(get(rec, "entity")), strings.ToLower(get(rec, "element"))
		if entity == "patient" && element == "id" {
			m.PatientID.Column = get(rec, "local_variable")
			m.PatientID.Pseudonymized = opts["pseudonymized"] == "true"
			if s := opts["issuers"]; s != "" {
				m.PatientID.Issuers = strings.Split(s, "|")
			}
			continue
		}
		c := ColumnMapping{Column: get(rec, "local_variable"), Element: entity + "." + element, System: get(rec, "standard"),
			Example: get(rec, "example"), Test: opts["test"], Type: opts["type"], Unit: opts["unit"],
			DateColumn: opts["date_column"], Display: opts["display_column"]}
		if entity == "ignore" || entity == "" {
			c.Element = "ignore"
		}
		if vm := get(rec, "value_map"); vm != "" {
			c.Values = map[string]string{}
			for _, kv := range strings.Split(vm, "|") {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return nil, fmt.Errorf("cdm: mapping template line %d: value map entry %q is not local=CODE", line, kv)
				}
				c.Values[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
		m.Columns = append(m.Columns, c)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Validate checks a mapping.
func (m *Mapping) Validate() error {
	if m.PatientID.Column == "" {
		return errors.New("cdm: mapping: patient_id.column must name the column of the patients' IDs")
	}
	switch m.Delimiter {
	case "", ",", ";", "\t":
	default:
		return fmt.Errorf("cdm: mapping: delimiter %q: want \",\", \";\" or a tab", m.Delimiter)
	}
	if len(m.Columns) > maxColumns {
		return fmt.Errorf("cdm: mapping: more than %d columns", maxColumns)
	}
	known := map[string]bool{}
	for _, e := range Elements {
		known[e] = true
	}
	seen := map[string]bool{}
	for i, c := range m.Columns {
		where := fmt.Sprintf("cdm: mapping: columns[%d] (%s)", i, c.Column)
		if c.Column == "" {
			return fmt.Errorf("%s: column is empty", where)
		}
		if !known[c.Element] {
			return fmt.Errorf("%s: unknown element %q (known: %s)", where, c.Element, strings.Join(Elements, ", "))
		}
		if c.Element != "ignore" && c.Element != "tumor_marker_test.value" && !strings.HasPrefix(c.Element, "treatment.") {
			if seen[c.Element] {
				return fmt.Errorf("%s: element %s is mapped twice", where, c.Element)
			}
			seen[c.Element] = true
		}
		if c.System != "" {
			if _, ok := SystemURI(c.System); !ok {
				return fmt.Errorf("%s: unknown code system %q (SNOMEDCT, LOINC, ICD-10, ICD-O-3, NCIT, UCUM, EUCAIM or a URI)", where, c.System)
			}
		}
		for local, code := range c.Values {
			if _, err := c.code(code); err != nil {
				return fmt.Errorf("%s: value map %q: %v", where, local, err)
			}
		}
		if c.Element == "tumor_marker_test.value" {
			if c.Test == "" {
				return fmt.Errorf("%s: a tumor_marker_test.value needs test (e.g. LOINC2857-1)", where)
			}
			if _, ok := splitPrefixed(c.Test); !ok {
				return fmt.Errorf("%s: test %q: want a prefixed code such as LOINC2857-1 or SNOMEDCT...", where, c.Test)
			}
			switch c.Type {
			case "", "code", "number", "text":
			default:
				return fmt.Errorf("%s: type %q: want code, number or text", where, c.Type)
			}
		}
	}
	return nil
}

// code reads a standard code as the mapping writes it: prefixed ("SNOMEDCT248152002")
// or bare in the column's system.
func (c *ColumnMapping) code(s string) (Code, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Code{}, errors.New("empty code")
	}
	if x, ok := splitPrefixed(s); ok {
		return x, nil
	}
	if c.System == "" {
		return Code{}, fmt.Errorf("code %q has no system: write it with a prefix (SNOMEDCT…, LOINC…) or give the column a system", s)
	}
	sys, _ := SystemURI(c.System)
	return Code{System: sys, Code: s}, nil
}

// valueCode reads a cell of a code column: through the value map when there is one.
func (c *ColumnMapping) valueCode(v string) (Code, error) {
	if c.Values != nil {
		target, ok := c.Values[v]
		if !ok {
			return Code{}, fmt.Errorf("value %q of column %s is not in its value map", v, c.Column)
		}
		x, err := c.code(target)
		if err == nil {
			x.Display = v
		}
		return x, err
	}
	return c.code(v)
}

// markerType is the kind of value a tumor_marker_test.value column holds.
func (c *ColumnMapping) markerType() string {
	switch {
	case c.Type != "":
		return c.Type
	case c.Values != nil || c.System != "":
		return "code"
	case c.Unit != "":
		return "number"
	}
	return "text"
}
