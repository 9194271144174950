package dataset

import (
	"context"
	"errors"
	"testing"

	"github.com/cancerimage/cie/internal/catalogue"
)

// sampleMeta is complete catalogue metadata, as a data holder fills it in.
func sampleMeta() catalogue.Dataset {
	return catalogue.Dataset{
		Title: "Lung cancer staging CT", Description: "Chest CT of lung cancer patients at diagnosis.",
		Keywords:     []string{"lung", "CT"},
		CancerTypes:  []catalogue.Code{catalogue.Terms(catalogue.KindCancerType)[0].Code},
		BodyParts:    []catalogue.Code{catalogue.Terms(catalogue.KindBodyPart)[0].Code},
		AccessRights: catalogue.AccessRestricted,
		License:      "https://creativecommons.org/licenses/by-nc/4.0/",
		Contact:      catalogue.Contact{Name: "Data desk", Email: "data@example.org"},
		Publisher:    catalogue.Publisher{Name: "Example Hospital", URL: "https://hospital.example.org"},
		InteropLevel: catalogue.Tier2,
	}
}

func TestStoreLifeCycle(t *testing.T) {
	ctx := context.Background()
	a, studies, _ := fixture(t)
	s := NewStore(a.DB(), a.Index(), a, a.Blobs(), a.Audit(), "oslo")
	d, err := s.Create(ctx, "holder", sampleMeta(), studies)
	if err != nil {
		t.Fatal(err)
	}
	if d.State != catalogue.StateDraft || d.Studies != len(studies) || d.Individuals != 2 || len(d.ContentHash) != 64 || len(d.Modalities) == 0 {
		t.Fatalf("created %+v", d)
	}
	got, st, err := s.Get(ctx, d.ID)
	if err != nil || got.ID != d.ID || len(st) != len(studies) {
		t.Fatalf("get: %v %v", st, err)
	}
	if ids, _ := s.OfStudy(ctx, studies[0]); len(ids) != 1 || ids[0] != d.ID {
		t.Fatalf("datasets of a study: %v", ids)
	}
	if st, err := s.State(ctx, d.ID); err != nil || st != catalogue.StateDraft {
		t.Fatalf("state of a draft: %q %v", st, err)
	}
	if d, err = s.Apply(ctx, "holder", d.ID, catalogue.ActionPublish); err != nil || d.State != catalogue.StatePublished || d.Issued.IsZero() {
		t.Fatalf("publish: %v", err)
	}
	if m, err := s.Membership(ctx, studies[0]); err != nil || len(m) != 1 || m[d.ID] != catalogue.StatePublished {
		t.Fatalf("membership: %v %v", m, err)
	}
	if m, err := s.Membership(ctx, "2.25.1"); err != nil || len(m) != 0 {
		t.Fatalf("membership of an unknown study: %v %v", m, err)
	}
	if _, err := s.State(ctx, "nosuch"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("state of an unknown dataset: %v", err)
	}
	if _, err := s.Apply(ctx, "holder", d.ID, catalogue.ActionReactivate); !errors.Is(err, catalogue.ErrTransition) {
		t.Fatalf("reactivate a published dataset: %v", err)
	}
	if _, _, changes, err := s.Verify(ctx, d.ID); err != nil || len(changes) != 0 {
		t.Fatalf("verify: %v %v", changes, err)
	}
	if _, _, _, err := s.Verify(ctx, "nosuch"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("verify an unknown dataset: %v", err)
	}
	entries, _ := a.Audit().Entries(ctx, 0, int(a.Audit().Size()))
	var types []string
	for _, e := range entries {
		types = append(types, e.Type)
	}
	if len(types) != 2 || types[0] != "dataset.created" || types[1] != "dataset.publish" {
		t.Fatalf("audit: %v", types)
	}
	// A draft with missing metadata cannot be published; the error names the field.
	bare, err := s.Create(ctx, "holder", catalogue.Dataset{Title: "x"}, studies[:1])
	if err != nil {
		t.Fatal(err)
	}
	var ve *catalogue.ValidationError
	if _, err := s.Apply(ctx, "holder", bare.ID, catalogue.ActionPublish); !errors.As(err, &ve) || !ve.Has("license") {
		t.Fatalf("publishing a bare draft: %v", err)
	}
}
