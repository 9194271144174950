// Package searchscale fills a node's store with generated data at scale for the search
// benchmarks (internal/node/search's BenchmarkThreeClauses, bench/fedsearch): patients
// planned by synth.ScaleOptions, their studies and series indexed without pixel data
// (one instance a series), their clinical rows imported into the CDM with a mapping,
// and every study in one published dataset. It is not used by the node itself.
package searchscale

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/cancerimage/cie/internal/catalogue"
	"github.com/cancerimage/cie/internal/cdm"
	"github.com/cancerimage/cie/internal/node/index"
	"github.com/cancerimage/cie/internal/store"
	"github.com/cancerimage/cie/internal/synth"
)

// DatasetID is the ID of the published dataset Fill makes.
const DatasetID = "bench"

// Fill puts the plan of patients generated patients (node name and seed as given to
// synth.ScaleOptions) into db, a migrated node store, and imports their clinical table
// with mapping (the demo's, internal/app/demo-clinical-mapping.yaml, whose patient IDs
// are taken as already pseudonymized). It returns the number of studies.
func Fill(ctx context.Context, db *store.DB, node string, seed uint64, patients int, mapping string) (int, error) {
	g, err := synth.New(synth.ScaleOptions(node, seed, patients))
	if err != nil {
		return 0, err
	}
	ix := index.New(db)
	var recs []index.Record
	var uids []string
	for p := range g.Patients() {
		for _, st := range p.Studies {
			uids = append(uids, st.UID)
			for _, se := range st.Series {
				recs = append(recs, index.Record{PatientID: p.ID, Sex: p.Sex, StudyUID: st.UID, StudyDate: st.Time.Format("20060102"),
					SeriesUID: se.UID, Modality: se.Modality, BodyPart: se.BodyPart, SOPUID: se.UID + ".1", BlobKey: se.UID})
			}
		}
	}
	for i := 0; i < len(recs); i += 5000 {
		if _, err := ix.PutMany(ctx, recs[i:min(i+5000, len(recs))], time.Now()); err != nil {
			return 0, fmt.Errorf("indexing: %w", err)
		}
	}
	var csv bytes.Buffer
	if err := synth.WriteClinicalCSV(&csv, g.Clinical()); err != nil {
		return 0, err
	}
	mapping = strings.Replace(mapping, "pseudonymized: false", "pseudonymized: true", 1)
	mapping = strings.Replace(mapping, "issuers: [ISSUERS]", "", 1)
	m, err := cdm.ReadMapping(strings.NewReader(mapping))
	if err != nil {
		return 0, fmt.Errorf("clinical mapping: %w", err)
	}
	im := &cdm.Importer{Store: cdm.NewStore(db)}
	rep, err := im.Import(ctx, "bench", cdm.Input{Source: "clinical.csv", Data: &csv, Mapping: m})
	if err != nil {
		return 0, fmt.Errorf("clinical import: %w", err)
	}
	if len(rep.Problems) > 0 {
		return 0, fmt.Errorf("clinical import: %d problems, the first: %+v", len(rep.Problems), rep.Problems[0])
	}
	body, err := json.Marshal(catalogue.Dataset{ID: DatasetID, Title: "Generated studies", Description: "Generated for a benchmark."})
	if err != nil {
		return 0, err
	}
	err = db.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO datasets (id, version, state, body, root, tree_key, created_ms, updated_ms)
			VALUES (?, 1, 'published', ?, '', '', 0, 0)`, DatasetID, string(body)); err != nil {
			return err
		}
		for _, u := range uids {
			if _, err := tx.Exec(ctx, `INSERT INTO dataset_studies (dataset_id, study_uid) VALUES (?, ?)`, DatasetID, u); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("publishing the dataset: %w", err)
	}
	db.MarkChanged()
	return len(uids), nil
}
