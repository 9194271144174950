package access

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/cancerimage/cie/internal/auth"
	"github.com/cancerimage/cie/internal/hub/migrations"
	"github.com/cancerimage/cie/internal/store"
	"github.com/cancerimage/cie/internal/testenv"
)

func engines(t *testing.T, fn func(t *testing.T, s *Store)) {
	for _, e := range []struct {
		name string
		url  func(testing.TB) string
	}{
		{"sqlite", func(t testing.TB) string { return filepath.Join(t.TempDir(), "hub.db") }},
		{"postgres", testenv.Postgres},
	} {
		t.Run(e.name, func(t *testing.T) {
			db, err := store.OpenMigrated(context.Background(), e.url(t), slog.New(slog.NewTextHandler(io.Discard, nil)), migrations.FS, migrations.Table)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			fn(t, NewStore(db))
		})
	}
}

var (
	researcher = Actor{User: "rita", Role: auth.RoleResearcher}
	other      = Actor{User: "otto", Role: auth.RoleResearcher}
	osloHolder = Actor{User: "olga", Role: auth.RoleDataHolder, Nodes: []string{"oslo"}}
	vlcHolder  = Actor{User: "vera", Role: auth.RoleDataHolder, Nodes: []string{"valencia"}}
	admin      = Actor{User: "root", Role: auth.RolePlatformAdmin}
)

func draft() Draft {
	return Draft{Title: "Lung nodules", Description: "Train a detector", Purpose: "research", Model: View,
		Datasets: []Part{{Node: "oslo", Dataset: "ds-1"}, {Node: "valencia", Dataset: "ds-2"}}}
}

func TestLifeCycle(t *testing.T) {
	engines(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		r, err := s.Submit(ctx, researcher, draft())
		if err != nil || r.State != UnderReview || len(r.Parts) != 2 {
			t.Fatalf("submit: %+v %v", r, err)
		}
		// Who sees it: the researcher, both data holders, the admin; not another researcher.
		for _, a := range []Actor{researcher, osloHolder, vlcHolder, admin} {
			if _, err := s.Get(ctx, a, r.ID); err != nil {
				t.Errorf("%s cannot see the request: %v", a.User, err)
			}
		}
		if _, err := s.Get(ctx, other, r.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("another researcher sees the request: %v", err)
		}
		if l, _ := s.List(ctx, osloHolder); len(l) != 1 {
			t.Errorf("oslo's list: %d", len(l))
		}
		if l, _ := s.List(ctx, other); len(l) != 0 {
			t.Errorf("other researcher's list: %d", len(l))
		}
		// Data holders wait for the review; only an admin reviews.
		if _, err := s.MovePart(ctx, osloHolder, r.ID, "oslo", "ds-1", CheckingAvailability); !errors.Is(err, ErrTransition) {
			t.Errorf("move before review: %v", err)
		}
		if _, err := s.Review(ctx, osloHolder, r.ID, true); !errors.Is(err, ErrForbidden) {
			t.Errorf("a data holder reviewed: %v", err)
		}
		if r, err = s.Review(ctx, admin, r.ID, true); err != nil || r.State != InProgress {
			t.Fatalf("review: %v", err)
		}
		// Each holder moves only their own part, only forward.
		if _, err := s.MovePart(ctx, vlcHolder, r.ID, "oslo", "ds-1", Available); !errors.Is(err, ErrForbidden) {
			t.Errorf("valencia moved oslo's part: %v", err)
		}
		for _, st := range []PartState{CheckingAvailability, Available, ConditionsIndicated, MadeAvailable} {
			if r, err = s.MovePart(ctx, osloHolder, r.ID, "oslo", "ds-1", st); err != nil {
				t.Fatalf("oslo → %s: %v", st, err)
			}
		}
		if _, err := s.MovePart(ctx, osloHolder, r.ID, "oslo", "ds-1", ConditionsMet); !errors.Is(err, ErrTransition) {
			t.Errorf("a part moved out of an ended state: %v", err)
		}
		if r.State != InProgress {
			t.Errorf("concluded with a part still open: %s", r.State)
		}
		if _, err := s.MovePart(ctx, vlcHolder, r.ID, "valencia", "ds-2", ConditionsMet); err != nil {
			t.Fatal(err) // skipping forward is allowed
		}
		if _, err := s.MovePart(ctx, vlcHolder, r.ID, "valencia", "ds-2", Unavailable); !errors.Is(err, ErrTransition) {
			t.Errorf("unavailable after conditions were met: %v", err)
		}
		if r, err = s.MovePart(ctx, vlcHolder, r.ID, "valencia", "ds-2", NotMadeAvailable); err != nil || r.State != Concluded {
			t.Fatalf("last part ended: %s %v", r.State, err)
		}
		if _, err := s.Abandon(ctx, researcher, r.ID); !errors.Is(err, ErrTransition) {
			t.Errorf("abandoned a concluded request: %v", err)
		}
		// Messages: from the researcher and, for its node, a holder; not for another node.
		if _, err := s.AddMessage(ctx, researcher, r.ID, "", "Thanks"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddMessage(ctx, osloHolder, r.ID, "valencia", "forged"); !errors.Is(err, ErrForbidden) {
			t.Errorf("oslo wrote for valencia: %v", err)
		}
		r, err = s.AddMessage(ctx, osloHolder, r.ID, "oslo", "Data is in the VRE")
		if err != nil || len(r.Messages) != 2 || r.Messages[1].Node != "oslo" {
			t.Fatalf("messages: %+v %v", r.Messages, err)
		}
		if _, err := s.AddMessage(ctx, other, r.ID, "", "hi"); !errors.Is(err, ErrNotFound) {
			t.Errorf("an outsider wrote: %v", err)
		}
	})
}

func TestDraftAndAbandon(t *testing.T) {
	engines(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		bad := draft()
		bad.Datasets = append(bad.Datasets, bad.Datasets[0])
		if _, err := s.Submit(ctx, researcher, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("a dataset twice: %v", err)
		}
		bad = draft()
		bad.Model = "everything"
		if _, err := s.Submit(ctx, researcher, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("unknown model: %v", err)
		}
		if _, err := s.Submit(ctx, Actor{}, draft()); !errors.Is(err, ErrForbidden) {
			t.Errorf("anonymous request: %v", err)
		}
		s.AutoReview = true
		r, err := s.Submit(ctx, researcher, draft())
		if err != nil || r.State != InProgress {
			t.Fatalf("auto-reviewed submit: %v %v", r, err)
		}
		if _, err := s.Abandon(ctx, osloHolder, r.ID); !errors.Is(err, ErrForbidden) {
			t.Errorf("a data holder abandoned: %v", err)
		}
		if r, err = s.Abandon(ctx, researcher, r.ID); err != nil || r.State != Abandoned {
			t.Fatalf("abandon: %v", err)
		}
		if _, err := s.MovePart(ctx, osloHolder, r.ID, "oslo", "ds-1", Available); !errors.Is(err, ErrTransition) {
			t.Errorf("moved a part of an abandoned request: %v", err)
		}
	})
}
