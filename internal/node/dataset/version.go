package dataset

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cancerimage/cie/internal/audit"
	"github.com/cancerimage/cie/internal/catalogue"
	"github.com/cancerimage/cie/internal/store"
)

// Version is one recorded content version of a dataset.
type Version struct {
	Version int       `json:"version"`
	Root    string    `json:"root"`
	TreeKey string    `json:"tree_key"`
	Actor   string    `json:"actor"`
	Notes   string    `json:"notes"`
	Created time.Time `json:"created"`
}

// Versions returns a dataset's recorded versions, oldest first.
func (s *Store) Versions(ctx context.Context, id string) ([]Version, error) {
	if _, err := s.State(ctx, id); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT version, root, tree_key, actor, notes, created_ms FROM dataset_versions
		WHERE dataset_id = ? ORDER BY version`, id)
	if err != nil {
		return nil, fmt.Errorf("versions of dataset %s: %w", id, err)
	}
	defer rows.Close()
	var out []Version
	for rows.Next() {
		var v Version
		var ms int64
		if err := rows.Scan(&v.Version, &v.Root, &v.TreeKey, &v.Actor, &v.Notes, &ms); err != nil {
			return nil, fmt.Errorf("versions of dataset %s: %w", id, err)
		}
		v.Created = time.UnixMilli(ms).UTC()
		out = append(out, v)
	}
	return out, rows.Err()
}

// Revision reports what Revise found.
type Revision struct {
	// Changed is true if the content differs from the recorded content.
	Changed bool
	// NewVersion is true if a new version was recorded (the dataset had been
	// published); a draft's content is replaced in place.
	NewVersion bool
	// Added and Removed are the studies added to and removed from the dataset; Modified
	// the studies in both whose content hash changed.
	Added, Removed, Modified []string
}

// Revise records a dataset's content anew. With studies (nil: the studies it has) it
// rebuilds the hash tree from the index. If the root differs from the recorded one, the
// content changed: a dataset that has been published gets a new version with its own
// tree (the earlier trees stay in the blob store, their versions in the store); a
// draft's tree is replaced. A change is audit-logged ("dataset.version" or
// "dataset.content") with the old and new roots.
func (s *Store) Revise(ctx context.Context, actor, id string, studies []string) (catalogue.Dataset, Revision, error) {
	var rev Revision
	d, current, err := s.Get(ctx, id)
	if err != nil {
		return d, rev, err
	}
	if studies == nil {
		studies = current
	}
	studies = slices.Compact(slices.Sorted(slices.Values(studies)))
	tree, err := Build(ctx, s.ix, studies)
	if err != nil {
		return d, rev, err
	}
	old, err := s.tree(ctx, id)
	if err != nil {
		return d, rev, err
	}
	for uid, st := range tree.Studies {
		if o, ok := old.Studies[uid]; !ok {
			rev.Added = append(rev.Added, uid)
		} else if o.Hash != st.Hash {
			rev.Modified = append(rev.Modified, uid)
		}
	}
	for uid := range old.Studies {
		if _, ok := tree.Studies[uid]; !ok {
			rev.Removed = append(rev.Removed, uid)
		}
	}
	slices.Sort(rev.Added)
	slices.Sort(rev.Removed)
	slices.Sort(rev.Modified)
	patients, err := s.patients(ctx, studies)
	if err != nil {
		return d, rev, err
	}
	now := s.now().UTC()
	oldRoot, oldVersion := d.ContentHash, d.Version
	if rev.Changed, err = d.SetContent(tree.Root, patients, len(tree.Studies), now); err != nil {
		return d, rev, err
	}
	if !rev.Changed && tree.Root == oldRoot {
		return d, rev, nil
	}
	rev.Changed = true
	rev.NewVersion = d.Version != oldVersion
	notes := fmt.Sprintf("%d studies added, %d removed, %d changed", len(rev.Added), len(rev.Removed), len(rev.Modified))
	if rev.NewVersion {
		d.VersionNotes = fmt.Sprintf("Version %d: %s since version %d.", d.Version, notes, oldVersion)
	}
	tj, err := json.Marshal(tree)
	if err != nil {
		return d, rev, err
	}
	// The key names the content too: a revision that loses a race with another (see
	// ErrChanged) must not overwrite the winner's tree.
	treeKey := fmt.Sprintf("datasets/%s/v%d/tree-%s.json", d.ID, d.Version, tree.Root)
	if _, err := s.blobs.Put(ctx, treeKey, bytes.NewReader(tj)); err != nil {
		return d, rev, fmt.Errorf("keeping the hash tree of %s: %w", d.ID, err)
	}
	body, err := json.Marshal(d)
	if err != nil {
		return d, rev, err
	}
	ms := now.UnixMilli()
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE datasets SET version = ?, body = ?, root = ?, tree_key = ?, updated_ms = ?
			WHERE id = ? AND version = ? AND root = ?`, d.Version, string(body), d.ContentHash, treeKey, ms, d.ID, oldVersion, oldRoot)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("%w: version %d is no longer the current one", ErrChanged, oldVersion)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM dataset_studies WHERE dataset_id = ?`, d.ID); err != nil {
			return err
		}
		for _, uid := range studies {
			if _, err := tx.Exec(ctx, `INSERT INTO dataset_studies (dataset_id, study_uid) VALUES (?, ?)`, d.ID, uid); err != nil {
				return err
			}
		}
		if !rev.NewVersion {
			_, err := tx.Exec(ctx, `UPDATE dataset_versions SET root = ?, tree_key = ?, actor = ?, notes = ?, created_ms = ?
				WHERE dataset_id = ? AND version = ?`, d.ContentHash, treeKey, actor, notes, ms, d.ID, d.Version)
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO dataset_versions (dataset_id, version, root, tree_key, actor, notes, created_ms)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, d.ID, d.Version, d.ContentHash, treeKey, actor, notes, ms)
		return err
	})
	if err != nil {
		return d, rev, fmt.Errorf("saving dataset %s: %w", d.ID, err)
	}
	s.db.MarkChanged()
	typ := "dataset.content"
	if rev.NewVersion {
		typ = "dataset.version"
	}
	if _, err := s.audit.Append(ctx, audit.Event{Type: typ, Actor: actor, Subject: d.ID, Fields: map[string]string{
		"version": strconv.Itoa(d.Version), "previous_version": strconv.Itoa(oldVersion), "root": d.ContentHash,
		"previous_root": oldRoot, "studies": strconv.Itoa(d.Studies), "individuals": strconv.Itoa(d.Individuals),
		"added": clipList(rev.Added), "removed": clipList(rev.Removed), "changed": clipList(rev.Modified)}}); err != nil {
		return d, rev, fmt.Errorf("logging dataset %s: %w", d.ID, err)
	}
	return d, rev, nil
}

// clipList joins UIDs for an audit field, at most 20 of them.
func clipList(uids []string) string {
	if len(uids) > 20 {
		return strings.Join(uids[:20], " ") + fmt.Sprintf(" … (%d in all)", len(uids))
	}
	return strings.Join(uids, " ")
}
