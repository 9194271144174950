package dataset

import (
	"context"
	"crypto/sha256"
	"crypto/sha3"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/cancerimage/cie/internal/blob"
	"github.com/cancerimage/cie/internal/node/index"
)

// Tree is a dataset's content hash tree.
type Tree struct {
	// Root is the dataset's hash (hex).
	Root string `json:"root"`
	// Studies are the studies by Study Instance UID.
	Studies map[string]*StudyNode `json:"studies"`
}

// StudyNode is one study of a Tree.
type StudyNode struct {
	Hash   string                 `json:"hash"`
	Series map[string]*SeriesNode `json:"series"`
}

// SeriesNode is one series of a Tree: its hash and its instances' SHA-256 digests by SOP
// Instance UID.
type SeriesNode struct {
	Hash      string            `json:"hash"`
	Instances map[string]string `json:"instances"`
}

// Counts returns the numbers of studies, series and instances in the tree.
func (t *Tree) Counts() (studies, series, instances int) {
	for _, st := range t.Studies {
		studies++
		for _, se := range st.Series {
			series++
			instances += len(se.Instances)
		}
	}
	return
}

// hashSorted is SHA3-256 of a label and the sorted "key=value" entries of m.
func hashSorted(label string, m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha3.New256()
	io.WriteString(h, label)
	for _, k := range keys {
		io.WriteString(h, "\x00"+k+"="+m[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// seal computes the hashes of every level from the leaves.
func (t *Tree) seal() {
	studies := map[string]string{}
	for stUID, st := range t.Studies {
		series := map[string]string{}
		for seUID, se := range st.Series {
			se.Hash = hashSorted("series\x00"+seUID, se.Instances)
			series[seUID] = se.Hash
		}
		st.Hash = hashSorted("study\x00"+stUID, series)
		studies[stUID] = st.Hash
	}
	t.Root = hashSorted("dataset", studies)
}

// add puts one instance's leaf into the tree.
func (t *Tree) add(study, series, sop, digest string) {
	if t.Studies == nil {
		t.Studies = map[string]*StudyNode{}
	}
	st := t.Studies[study]
	if st == nil {
		st = &StudyNode{Series: map[string]*SeriesNode{}}
		t.Studies[study] = st
	}
	se := st.Series[series]
	if se == nil {
		se = &SeriesNode{Instances: map[string]string{}}
		st.Series[series] = se
	}
	se.Instances[sop] = digest
}

// ErrNoStudies is returned for a dataset without studies.
var ErrNoStudies = errors.New("a dataset needs at least one study")

// Build makes the tree of the studies from the digests recorded in the index.
func Build(ctx context.Context, ix *index.Index, studies []string) (*Tree, error) {
	if len(studies) == 0 {
		return nil, ErrNoStudies
	}
	t := &Tree{}
	for _, uid := range studies {
		list, err := ix.Instances(ctx, uid, "", "")
		if err != nil {
			return nil, fmt.Errorf("study %s: %w", uid, err)
		}
		for _, in := range list {
			if in.SHA256 == "" {
				return nil, fmt.Errorf("instance %s has no recorded digest", in.SOPUID)
			}
			t.add(in.StudyUID, in.SeriesUID, in.SOPUID, in.SHA256)
		}
	}
	t.seal()
	return t, nil
}

// Change is one difference between a recorded tree and the content found.
type Change struct {
	Study, Series, Instance string
	// What is "changed", "missing" or "added".
	What string
}

func (c Change) String() string {
	return fmt.Sprintf("instance %s of series %s of study %s: %s", c.Instance, c.Series, c.Study, c.What)
}

// Verify recomputes the leaves of a recorded tree from the stored files (opened with
// files for the instances the index gives, or missing when the index no longer has them)
// and from the index's current content of the same studies, and returns what differs,
// in study, series and instance order. No changes means the content is as recorded.
func Verify(ctx context.Context, ix *index.Index, files Files, recorded *Tree) (*Tree, []Change, error) {
	found := &Tree{}
	for stUID := range recorded.Studies {
		list, err := ix.Instances(ctx, stUID, "", "")
		if errors.Is(err, index.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		for _, in := range list {
			digest, err := fileDigest(ctx, files, in)
			if errors.Is(err, blob.ErrNotFound) {
				continue // the file is gone: the instance is missing
			}
			if err != nil {
				return nil, nil, err
			}
			found.add(in.StudyUID, in.SeriesUID, in.SOPUID, digest)
		}
	}
	found.seal()
	return found, Diff(recorded, found), nil
}

func fileDigest(ctx context.Context, files Files, in index.Instance) (string, error) {
	rc, err := files.Open(ctx, in)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return "", fmt.Errorf("reading instance %s: %w", in.SOPUID, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Diff lists the instances that differ between two trees.
func Diff(recorded, found *Tree) []Change {
	var out []Change
	leaves := func(t *Tree) map[[3]string]string {
		m := map[[3]string]string{}
		for stUID, st := range t.Studies {
			for seUID, se := range st.Series {
				for sop, d := range se.Instances {
					m[[3]string{stUID, seUID, sop}] = d
				}
			}
		}
		return m
	}
	a, b := leaves(recorded), leaves(found)
	for k, d := range a {
		switch got, ok := b[k]; {
		case !ok:
			out = append(out, Change{k[0], k[1], k[2], "missing"})
		case got != d:
			out = append(out, Change{k[0], k[1], k[2], "changed"})
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, Change{k[0], k[1], k[2], "added"})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		x, y := out[i], out[j]
		return strings.Join([]string{x.Study, x.Series, x.Instance}, "\x00") < strings.Join([]string{y.Study, y.Series, y.Instance}, "\x00")
	})
	return out
}
