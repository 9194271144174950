package cdm

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Formats of an import.
const (
	FormatCSV  = "csv"
	FormatFHIR = "fhir"
)

// Report is what an import did: the problems of the lines it left out and the rows it
// wrote, per table.
type Report struct {
	ID       string    `json:"id"`
	Source   string    `json:"source"`
	Format   string    `json:"format"`
	SHA256   string    `json:"sha256"`
	Lines    int       `json:"lines"`
	Records  int       `json:"records"`
	Problems []Problem `json:"problems"`
	// ProblemCount counts every problem; Problems lists at most MaxProblems.
	ProblemCount int     `json:"problem_count"`
	Changes      Changes `json:"changes"`
	// Totals are the numbers of rows of each table after the import.
	Totals map[string]int `json:"totals"`
}

// InputError is an import's error that is the input's fault (a file that cannot be
// read as a whole, a bad mapping), not the store's.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// Importer imports clinical files into a node's CDM tables.
type Importer struct {
	Store    *Store
	Identity Identity
	Log      *slog.Logger
}

// Input is one file to import.
type Input struct {
	// Source names the file (its name, for the report and the rows).
	Source string
	// Format is FormatCSV or FormatFHIR; empty: FHIR if the content starts with '{'.
	Format string
	// Data is the file's content (at most MaxImportSize bytes).
	Data io.Reader
	// Mapping is required for CSV.
	Mapping *Mapping
	// Bundle options for FHIR.
	Bundle BundleOptions
}

// Import parses the input, writes what it could read (all of it in one transaction)
// and logs the import. Lines that cannot be read are in the report's problems; an error
// is returned only if the file as a whole cannot be read or the store fails.
func (im *Importer) Import(ctx context.Context, actor string, in Input) (*Report, error) {
	b, err := io.ReadAll(io.LimitReader(in.Data, MaxImportSize+1))
	if err != nil {
		return nil, fmt.Errorf("cdm: reading %s: %w", in.Source, err)
	}
	if len(b) > MaxImportSize {
		return nil, &InputError{ErrTooLarge}
	}
	format := in.Format
	if format == "" {
		format = FormatCSV
		if t := bytes.TrimLeft(b, "\ufeff \t\r\n"); len(t) > 0 && t[0] == '{' {
			format = FormatFHIR
		}
	}
	var p *Parsed
	switch format {
	case FormatCSV:
		if in.Mapping == nil {
			return nil, &InputError{fmt.Errorf("cdm: a CSV import needs a mapping")}
		}
		p, err = ParseCSV(bytes.NewReader(b), in.Mapping, im.Identity)
	case FormatFHIR:
		p, err = ParseBundle(bytes.NewReader(b), in.Bundle, im.Identity)
	default:
		return nil, &InputError{fmt.Errorf("cdm: unknown format %q (want csv or fhir)", format)}
	}
	if err != nil {
		return nil, &InputError{err}
	}
	sum := sha256.Sum256(b)
	var idb [8]byte
	_, _ = rand.Read(idb[:])
	rep := &Report{ID: hex.EncodeToString(idb[:]), Source: in.Source, Format: format, SHA256: hex.EncodeToString(sum[:]),
		Lines: p.Lines, Records: len(p.Records), Problems: p.Problems, ProblemCount: p.ProblemCount}
	if rep.Problems == nil {
		rep.Problems = []Problem{}
	}
	if rep.Changes, err = im.Store.Apply(ctx, p.Records, in.Source); err != nil {
		return nil, err
	}
	if rep.Totals, err = im.Store.Counts(ctx); err != nil {
		return nil, err
	}
	t := rep.Changes.Total()
	if err := im.Store.LogImport(ctx, Import{ID: rep.ID, Actor: actor, Source: in.Source, Format: format, SHA256: rep.SHA256,
		Records: rep.Records, Problems: rep.ProblemCount, Inserted: t.Inserted, Updated: t.Updated, Unchanged: t.Unchanged,
		Created: time.Now().UTC()}); err != nil {
		return nil, err
	}
	if im.Log != nil {
		im.Log.InfoContext(ctx, "clinical import", "source", in.Source, "format", format, "lines", p.Lines, "problems", p.ProblemCount,
			"inserted", t.Inserted, "updated", t.Updated, "unchanged", t.Unchanged)
	}
	return rep, nil
}
