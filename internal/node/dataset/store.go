package dataset

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/cancerimage/cie/internal/audit"
	"github.com/cancerimage/cie/internal/blob"
	"github.com/cancerimage/cie/internal/catalogue"
	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
	"github.com/cancerimage/cie/internal/node/index"
	"github.com/cancerimage/cie/internal/store"
)

// ErrNotFound is returned for a dataset the node does not have.
var ErrNotFound = errors.New("no such dataset")

// ErrChanged means a dataset changed while a revision of it was being made (another
// revision won the race); nothing was changed by the one that failed, which may be
// tried again.
var ErrChanged = errors.New("the dataset changed meanwhile; try again")

// Store keeps the node's datasets.
type Store struct {
	db    *store.DB
	ix    *index.Index
	blobs *blob.Store
	files Files
	audit *audit.Log
	node  string
	now   func() time.Time
}

// Files opens the stored file of an indexed instance; the node's archive is one. A
// missing file fails with an error that matches blob.ErrNotFound.
type Files interface {
	Open(ctx context.Context, in index.Instance) (io.ReadCloser, error)
}

// NewStore returns the datasets of node over its stores: the index and files of its
// instances, and blobs for the datasets' own records.
func NewStore(db *store.DB, ix *index.Index, files Files, blobs *blob.Store, log *audit.Log, node string) *Store {
	return &Store{db: db, ix: ix, files: files, blobs: blobs, audit: log, node: node, now: time.Now}
}

// NewID returns a fresh dataset identifier for the node: unique across the hub, since
// node names are.
func NewID(node string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return node + "-" + hex.EncodeToString(b[:])
}

// Create makes a draft dataset of the studies with the metadata of d (its ID, node,
// state, version, counts and content hash are set here), records its content hash tree
// and logs the creation with the root hash.
func (s *Store) Create(ctx context.Context, actor string, d catalogue.Dataset, studies []string) (catalogue.Dataset, error) {
	now := s.now().UTC()
	meta := d
	d = catalogue.New(NewID(s.node), s.node, now)
	d.Title, d.Description, d.Keywords = meta.Title, meta.Description, meta.Keywords
	d.CancerTypes, d.BodyParts, d.Modalities = meta.CancerTypes, meta.BodyParts, meta.Modalities
	d.AccessRights, d.License, d.Contact, d.Publisher = meta.AccessRights, meta.License, meta.Contact, meta.Publisher
	d.InteropLevel, d.ConformsTo, d.LandingPage = meta.InteropLevel, meta.ConformsTo, meta.LandingPage
	if len(meta.ApplicableLegislation) > 0 {
		d.ApplicableLegislation = meta.ApplicableLegislation
	}
	tree, err := Build(ctx, s.ix, studies)
	if err != nil {
		return d, err
	}
	patients, err := s.patients(ctx, studies)
	if err != nil {
		return d, err
	}
	if len(d.Modalities) == 0 {
		d.Modalities = s.modalities(ctx, studies)
	}
	if _, err := d.SetContent(tree.Root, patients, len(tree.Studies), now); err != nil {
		return d, err
	}
	d.Normalize()
	if err := s.save(ctx, actor, d, tree, studies, true); err != nil {
		return d, err
	}
	if _, err := s.audit.Append(ctx, audit.Event{Type: "dataset.created", Actor: actor, Subject: d.ID, Fields: map[string]string{
		"root": tree.Root, "studies": strconv.Itoa(d.Studies), "individuals": strconv.Itoa(d.Individuals), "title": d.Title}}); err != nil {
		return d, fmt.Errorf("logging dataset %s: %w", d.ID, err)
	}
	return d, nil
}

// patients counts the distinct patients of the studies.
func (s *Store) patients(ctx context.Context, studies []string) (int, error) {
	seen := map[string]bool{}
	for _, uid := range studies {
		m, err := s.ix.Search(ctx, index.Query{Match: map[dicom.Tag]string{tags.StudyInstanceUID: uid}, Limit: 1})
		if err != nil {
			return 0, err
		}
		if len(m) == 0 {
			return 0, fmt.Errorf("study %s: %w", uid, index.ErrNotFound)
		}
		seen[m[0].Study.PatientID] = true
	}
	return len(seen), nil
}

// modalities are the RadLex codes of the modalities found in the studies.
func (s *Store) modalities(ctx context.Context, studies []string) []catalogue.Code {
	var out []catalogue.Code
	seen := map[string]bool{}
	for _, uid := range studies {
		m, err := s.ix.Search(ctx, index.Query{Level: index.SeriesLevel, StudyUID: uid, Limit: index.MaxLimit})
		if err != nil {
			continue
		}
		for _, x := range m {
			if t, ok := catalogue.ModalityFromDICOM(x.Series.Modality); ok && !seen[t.Code.Code] {
				seen[t.Code.Code] = true
				out = append(out, t.Code)
			}
		}
	}
	return out
}

func (s *Store) save(ctx context.Context, actor string, d catalogue.Dataset, tree *Tree, studies []string, create bool) error {
	body, err := json.Marshal(d)
	if err != nil {
		return err
	}
	treeKey := fmt.Sprintf("datasets/%s/v%d/tree.json", d.ID, d.Version)
	if tree != nil {
		tj, err := json.Marshal(tree)
		if err != nil {
			return err
		}
		if _, err := s.blobs.Put(ctx, treeKey, bytes.NewReader(tj)); err != nil {
			return fmt.Errorf("keeping the hash tree of %s: %w", d.ID, err)
		}
	}
	now := s.now().UTC().UnixMilli()
	defer s.db.MarkChanged() // after the commit (or the rollback: a harmless extra reload)
	return s.db.Tx(ctx, func(tx *store.Tx) error {
		if create {
			if _, err := tx.Exec(ctx, `INSERT INTO datasets (id, version, state, body, root, tree_key, created_ms, updated_ms)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, d.ID, d.Version, string(d.State), string(body), d.ContentHash, treeKey, now, now); err != nil {
				return fmt.Errorf("saving dataset %s: %w", d.ID, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO dataset_versions (dataset_id, version, root, tree_key, actor, notes, created_ms)
				VALUES (?, ?, ?, ?, ?, ?, ?)`, d.ID, d.Version, d.ContentHash, treeKey, actor, "", now); err != nil {
				return fmt.Errorf("saving dataset %s: %w", d.ID, err)
			}
			for _, uid := range studies {
				if _, err := tx.Exec(ctx, `INSERT INTO dataset_studies (dataset_id, study_uid) VALUES (?, ?) ON CONFLICT DO NOTHING`, d.ID, uid); err != nil {
					return fmt.Errorf("saving dataset %s: %w", d.ID, err)
				}
			}
			return nil
		}
		_, err := tx.Exec(ctx, `UPDATE datasets SET version = ?, state = ?, body = ?, updated_ms = ? WHERE id = ?`,
			d.Version, string(d.State), string(body), now, d.ID)
		return err
	})
}

// Get returns a dataset and its studies.
func (s *Store) Get(ctx context.Context, id string) (catalogue.Dataset, []string, error) {
	var d catalogue.Dataset
	var body string
	err := s.db.QueryRow(ctx, `SELECT body FROM datasets WHERE id = ?`, id).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return d, nil, fmt.Errorf("dataset %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return d, nil, fmt.Errorf("reading dataset %s: %w", id, err)
	}
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		return d, nil, fmt.Errorf("reading dataset %s: %w", id, err)
	}
	rows, err := s.db.Query(ctx, `SELECT study_uid FROM dataset_studies WHERE dataset_id = ? ORDER BY study_uid`, id)
	if err != nil {
		return d, nil, err
	}
	defer rows.Close()
	var studies []string
	for rows.Next() {
		var uid string
		if err := rows.Scan(&uid); err != nil {
			return d, nil, err
		}
		studies = append(studies, uid)
	}
	return d, studies, rows.Err()
}

// List returns every dataset of the node, newest first.
func (s *Store) List(ctx context.Context) ([]catalogue.Dataset, error) {
	rows, err := s.db.Query(ctx, `SELECT body FROM datasets ORDER BY created_ms DESC, id`)
	if err != nil {
		return nil, fmt.Errorf("listing datasets: %w", err)
	}
	defer rows.Close()
	var out []catalogue.Dataset
	for rows.Next() {
		var body string
		var d catalogue.Dataset
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(body), &d); err != nil {
			return nil, fmt.Errorf("listing datasets: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Apply moves a dataset through its life cycle (publish, invalidate, reactivate) and
// logs it.
func (s *Store) Apply(ctx context.Context, actor, id string, action catalogue.Action) (catalogue.Dataset, error) {
	d, _, err := s.Get(ctx, id)
	if err != nil {
		return d, err
	}
	if err := d.Apply(action, s.now()); err != nil {
		return d, err
	}
	if err := s.save(ctx, actor, d, nil, nil, false); err != nil {
		return d, err
	}
	if _, err := s.audit.Append(ctx, audit.Event{Type: "dataset." + string(action), Actor: actor, Subject: d.ID,
		Fields: map[string]string{"state": string(d.State), "version": strconv.Itoa(d.Version), "root": d.ContentHash}}); err != nil {
		return d, fmt.Errorf("logging dataset %s: %w", d.ID, err)
	}
	return d, nil
}

// tree reads the recorded hash tree of a dataset's current version.
func (s *Store) tree(ctx context.Context, id string) (*Tree, error) {
	var key string
	if err := s.db.QueryRow(ctx, `SELECT tree_key FROM datasets WHERE id = ?`, id).Scan(&key); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("dataset %s: %w", id, ErrNotFound)
		}
		return nil, err
	}
	rc, err := s.blobs.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: its hash tree: %w", id, err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, err
	}
	t := &Tree{}
	if err := json.Unmarshal(data, t); err != nil {
		return nil, fmt.Errorf("dataset %s: its hash tree: %w", id, err)
	}
	return t, nil
}

// Verify re-checks a dataset's content against the hash tree of its current version.
func (s *Store) Verify(ctx context.Context, id string) (recorded, found *Tree, changes []Change, err error) {
	if recorded, err = s.tree(ctx, id); err != nil {
		return nil, nil, nil, err
	}
	found, changes, err = Verify(ctx, s.ix, s.files, recorded)
	return recorded, found, changes, err
}

// OfStudy returns the identifiers of the datasets that hold a study.
func (s *Store) OfStudy(ctx context.Context, studyUID string) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT dataset_id FROM dataset_studies WHERE study_uid = ? ORDER BY dataset_id`, studyUID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// Membership returns the datasets that hold a study, with their life-cycle states.
func (s *Store) Membership(ctx context.Context, studyUID string) (map[string]catalogue.State, error) {
	rows, err := s.db.Query(ctx, `SELECT d.id, d.state FROM dataset_studies m JOIN datasets d ON d.id = m.dataset_id
		WHERE m.study_uid = ?`, studyUID)
	if err != nil {
		return nil, fmt.Errorf("datasets of study %s: %w", studyUID, err)
	}
	defer rows.Close()
	out := map[string]catalogue.State{}
	for rows.Next() {
		var id, state string
		if err := rows.Scan(&id, &state); err != nil {
			return nil, fmt.Errorf("datasets of study %s: %w", studyUID, err)
		}
		out[id] = catalogue.State(state)
	}
	return out, rows.Err()
}

// State returns a dataset's life-cycle state; an unknown dataset is an error wrapping
// ErrNotFound.
func (s *Store) State(ctx context.Context, id string) (catalogue.State, error) {
	var state string
	err := s.db.QueryRow(ctx, `SELECT state FROM datasets WHERE id = ?`, id).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("dataset %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("reading dataset %s: %w", id, err)
	}
	return catalogue.State(state), nil
}
