package dataset

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/cancerimage/cie/internal/catalogue"
)

// TestReviseVersions: changing the studies of a published dataset records a new
// version with its own tree and keeps the old one; unchanged content records nothing;
// a draft's content is replaced in place.
func TestReviseVersions(t *testing.T) {
	ctx := context.Background()
	a, studies, _ := fixture(t)
	slices.Sort(studies)
	s := NewStore(a.DB(), a.Index(), a, a.Blobs(), a.Audit(), "oslo")
	d, err := s.Create(ctx, "holder", sampleMeta(), studies[:1])
	if err != nil {
		t.Fatal(err)
	}
	v1 := d.ContentHash
	// A draft: the content is replaced, the version stays 1.
	d, rev, err := s.Revise(ctx, "holder", d.ID, studies)
	if err != nil || !rev.Changed || rev.NewVersion || d.Version != 1 || d.Studies != len(studies) || d.ContentHash == v1 {
		t.Fatalf("revise a draft: %+v %+v %v", d, rev, err)
	}
	if vs, err := s.Versions(ctx, d.ID); err != nil || len(vs) != 1 || vs[0].Root != d.ContentHash {
		t.Fatalf("versions of a draft: %+v %v", vs, err)
	}
	if d, err = s.Apply(ctx, "holder", d.ID, catalogue.ActionPublish); err != nil {
		t.Fatal(err)
	}
	before := d.ContentHash
	size := a.Audit().Size()
	// The holder removes a study from the published dataset: version 2.
	d, rev, err = s.Revise(ctx, "holder2", d.ID, studies[:1])
	if err != nil || !rev.NewVersion || d.Version != 2 || len(rev.Removed) != len(studies)-1 || len(rev.Added) != 0 || d.Studies != 1 {
		t.Fatalf("revise a published dataset: %+v %+v %v", d, rev, err)
	}
	if d.ContentHash != v1 || d.State != catalogue.StatePublished || d.VersionNotes == "" {
		t.Fatalf("version 2: %+v", d)
	}
	got, members, err := s.Get(ctx, d.ID)
	if err != nil || got.Version != 2 || !slices.Equal(members, studies[:1]) {
		t.Fatalf("get: %+v %v %v", got, members, err)
	}
	if m, _ := s.Membership(ctx, studies[1]); len(m) != 0 {
		t.Fatalf("a removed study is still a member: %v", m)
	}
	vs, err := s.Versions(ctx, d.ID)
	if err != nil || len(vs) != 2 || vs[0].Root != before || vs[1].Root != v1 || vs[1].Actor != "holder2" || vs[0].TreeKey == vs[1].TreeKey {
		t.Fatalf("versions: %+v %v", vs, err)
	}
	// The old tree is kept; the current one verifies.
	if rc, err := a.Blobs().Get(ctx, vs[0].TreeKey); err != nil {
		t.Fatalf("tree of version 1: %v", err)
	} else {
		rc.Close()
	}
	if _, _, changes, err := s.Verify(ctx, d.ID); err != nil || len(changes) != 0 {
		t.Fatalf("verify version 2: %v %v", changes, err)
	}
	es, _ := a.Audit().Entries(ctx, size, int(a.Audit().Size()-size))
	if len(es) != 1 || es[0].Type != "dataset.version" || es[0].Fields["version"] != "2" || es[0].Fields["previous_root"] != before || es[0].Fields["root"] != v1 {
		t.Fatalf("audit: %+v", es)
	}
	// The same content again: nothing recorded.
	if _, rev, err := s.Revise(ctx, "holder", d.ID, nil); err != nil || rev.Changed {
		t.Fatalf("unchanged: %+v %v", rev, err)
	}
	if a.Audit().Size() != size+1 {
		t.Fatal("an unchanged revision was logged")
	}
	if _, _, err := s.Revise(ctx, "holder", d.ID, []string{}); err == nil {
		t.Fatal("a dataset revised to no studies")
	}
	if _, _, err := s.Revise(ctx, "holder", d.ID, []string{"2.25.1"}); err == nil {
		t.Fatal("a dataset revised to an unknown study")
	}
}

// TestReviseRace: revisions of a published dataset made at once (two data holders
// saving its studies together) either win or fail with ErrChanged, never with the store's
// conflict; the versions are numbered without gaps and each names the tree it recorded.
func TestReviseRace(t *testing.T) {
	ctx := context.Background()
	a, studies, _ := fixture(t)
	slices.Sort(studies)
	s := NewStore(a.DB(), a.Index(), a, a.Blobs(), a.Audit(), "oslo")
	d, err := s.Create(ctx, "holder", sampleMeta(), studies)
	if err != nil {
		t.Fatal(err)
	}
	if _, err = s.Apply(ctx, "holder", d.ID, catalogue.ActionPublish); err != nil {
		t.Fatal(err)
	}
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, _, err := s.Revise(ctx, "holder", d.ID, studies[:1+i%(len(studies)-1)])
			errs <- err
		}()
	}
	won := 0
	for range n {
		switch err := <-errs; {
		case err == nil:
			won++
		case !errors.Is(err, ErrChanged):
			t.Errorf("a revision lost the race with: %v", err)
		}
	}
	vs, err := s.Versions(ctx, d.ID)
	if err != nil || won == 0 || len(vs) > 1+won {
		t.Fatalf("%d revisions won, versions %+v %v", won, vs, err)
	}
	for _, v := range vs {
		rc, err := s.blobs.Get(ctx, v.TreeKey)
		if err != nil {
			t.Fatal(err)
		}
		var tree Tree
		err = json.NewDecoder(rc).Decode(&tree)
		rc.Close()
		if err != nil || tree.Root != v.Root {
			t.Errorf("version %d records root %s, its tree %s holds %s (%v)", v.Version, v.Root, v.TreeKey, tree.Root, err)
		}
	}
}
