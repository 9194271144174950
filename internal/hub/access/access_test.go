package access

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// members makes the test actors' users and nodes, as the hub keeps them.
func addMembers(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	users := auth.NewUsers(s.db)
	for _, a := range []Actor{researcher, other, osloHolder, vlcHolder, admin} {
		if err := users.Put(ctx, a.User, a.Role, "long enough"); err != nil {
			t.Fatal(err)
		}
		for _, n := range a.Nodes {
			if _, err := s.db.Exec(ctx, `INSERT INTO user_nodes (user_name, node) VALUES (?, ?)`, a.User, n); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestVisasNoticesAndEvents(t *testing.T) {
	engines(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		addMembers(t, s)
		var events []Event
		s.OnEvent = func(e Event) { events = append(events, e) }
		s.AutoReview = true
		fail := errors.New("signing key unavailable")
		s.Issue = func(ctx context.Context, r *Request, p Part) (Visa, error) { return Visa{}, fail }
		r, err := s.Submit(ctx, researcher, draft())
		if err != nil {
			t.Fatal(err)
		}
		// Both holders are told, the researcher is not told of their own act; each node's
		// webhook gets one event.
		for who, want := range map[string]int{"olga": 1, "vera": 1, "rita": 0, "otto": 0} {
			if n, _ := s.Unread(ctx, who); n != want {
				t.Errorf("%s has %d unread notices after submit, want %d", who, n, want)
			}
		}
		if len(events) != 2 || events[0].Type != EventSubmitted || events[0].Node != "oslo" || events[1].Node != "valencia" {
			t.Fatalf("events: %+v", events)
		}
		// A visa that cannot be issued fails the move, which then did not happen.
		if _, err := s.MovePart(ctx, osloHolder, r.ID, "oslo", "ds-1", MadeAvailable); !errors.Is(err, fail) {
			t.Fatalf("move with a failing issuer: %v", err)
		}
		if got, _ := s.Get(ctx, researcher, r.ID); got.Parts[0].State != PartSubmitted {
			t.Fatalf("part moved although its visa failed: %s", got.Parts[0].State)
		}
		if n, _ := s.Unread(ctx, "rita"); n != 0 {
			t.Fatalf("a notice of a move that failed: %d", n)
		}
		exp := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
		s.Issue = func(ctx context.Context, r *Request, p Part) (Visa, error) {
			return Visa{JTI: "jti-" + p.Dataset, User: r.Researcher, Node: p.Node, Dataset: p.Dataset, Request: r.ID, Access: r.Model,
				Token: "token-" + p.Dataset, Issued: time.Now(), Expires: exp}, nil
		}
		events = nil
		if _, err := s.MovePart(ctx, osloHolder, r.ID, "oslo", "ds-1", MadeAvailable); err != nil {
			t.Fatal(err)
		}
		if len(events) != 2 || events[0].Type != EventPartMoved || events[1].Type != EventVisaIssued || events[1].Dataset != "ds-1" || events[1].Node != "oslo" {
			t.Fatalf("events of the approval: %+v", events)
		}
		ns, _ := s.Notices(ctx, "rita", 10)
		if len(ns) != 2 || ns[0].Request != r.ID || !strings.Contains(ns[0].Text+ns[1].Text, "Resource made available") {
			t.Fatalf("rita's notices: %+v", ns)
		}
		if n, _ := s.Unread(ctx, "vera"); n != 1 {
			t.Errorf("valencia's holder told of oslo's move: %d", n)
		}
		if err := s.MarkRead(ctx, "rita"); err != nil {
			t.Fatal(err)
		}
		if n, _ := s.Unread(ctx, "rita"); n != 0 {
			t.Errorf("unread after MarkRead: %d", n)
		}
		// The visa: valid for rita at oslo only; seen by rita, oslo's holder and the admin.
		if vs, _ := s.ValidVisas(ctx, "rita", "oslo"); len(vs) != 1 || vs[0].Token != "token-ds-1" || vs[0].Access != View || !vs[0].Expires.Equal(exp) {
			t.Fatalf("rita's visas at oslo: %+v", vs)
		}
		if vs, _ := s.ValidVisas(ctx, "rita", "valencia"); len(vs) != 0 {
			t.Fatalf("rita's visas at valencia: %+v", vs)
		}
		for a, want := range map[*Actor]int{&researcher: 1, &other: 0, &osloHolder: 1, &vlcHolder: 0, &admin: 1} {
			if vs, err := s.Visas(ctx, *a); err != nil || len(vs) != want {
				t.Errorf("%s sees %d visas, want %d (%v)", a.User, len(vs), want, err)
			}
		}
		// Revocation: not by the researcher nor another node; a failing revocation changes
		// nothing; once revoked, the visa is no longer valid and cannot be revoked again.
		ok := func(Visa, string) error { return nil }
		if _, err := s.RevokeVisa(ctx, researcher, "jti-ds-1", "", ok); !errors.Is(err, ErrForbidden) {
			t.Errorf("the researcher revoked: %v", err)
		}
		if _, err := s.RevokeVisa(ctx, vlcHolder, "jti-ds-1", "", ok); !errors.Is(err, ErrNotFound) {
			t.Errorf("valencia revoked oslo's visa: %v", err)
		}
		if _, err := s.RevokeVisa(ctx, osloHolder, "jti-ds-1", "", func(Visa, string) error { return fail }); !errors.Is(err, fail) {
			t.Errorf("failing revocation: %v", err)
		}
		if vs, _ := s.ValidVisas(ctx, "rita", "oslo"); len(vs) != 1 {
			t.Fatal("a failed revocation revoked")
		}
		var pushed string
		v, err := s.RevokeVisa(ctx, osloHolder, "jti-ds-1", "consent withdrawn", func(v Visa, reason string) error { pushed = v.JTI + ":" + reason; return nil })
		if err != nil || v.RevokedBy != "olga" || pushed != "jti-ds-1:consent withdrawn" {
			t.Fatalf("revoke: %+v %v %q", v, err, pushed)
		}
		if vs, _ := s.ValidVisas(ctx, "rita", ""); len(vs) != 0 {
			t.Fatalf("revoked visa still valid: %+v", vs)
		}
		if _, err := s.RevokeVisa(ctx, admin, "jti-ds-1", "", ok); !errors.Is(err, ErrTransition) {
			t.Errorf("second revocation: %v", err)
		}
		if _, err := s.RevokeVisa(ctx, admin, "nope", "", ok); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown visa: %v", err)
		}
	})
}

func TestBasketAndAttachments(t *testing.T) {
	engines(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		addMembers(t, s)
		for _, b := range []BasketItem{{"oslo", "ds-1"}, {"valencia", "ds-2"}, {"oslo", "ds-1"}, {"oslo", "ds-3"}} {
			if err := s.AddToBasket(ctx, "rita", b); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.AddToBasket(ctx, "", BasketItem{"oslo", "ds-1"}); !errors.Is(err, ErrForbidden) {
			t.Errorf("anonymous basket: %v", err)
		}
		if err := s.RemoveFromBasket(ctx, "rita", "ds-3"); err != nil {
			t.Fatal(err)
		}
		b, _ := s.Basket(ctx, "rita")
		if len(b) != 2 || b[0].Dataset != "ds-1" || b[1].Dataset != "ds-2" {
			t.Fatalf("basket: %+v", b)
		}
		if b, _ := s.Basket(ctx, "otto"); len(b) != 0 {
			t.Fatalf("otto's basket: %+v", b)
		}
		// A failed submit keeps the basket; a submitted request empties it of its datasets.
		bad := draft()
		bad.Title = ""
		var fe *FieldError
		if _, err := s.Submit(ctx, researcher, bad); !errors.As(err, &fe) || fe.Field != "title" {
			t.Fatalf("no title: %v", err)
		}
		if b, _ := s.Basket(ctx, "rita"); len(b) != 2 {
			t.Fatalf("basket after a failed submit: %+v", b)
		}
		r, err := s.Submit(ctx, researcher, draft())
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := s.Basket(ctx, "rita"); len(b) != 0 {
			t.Fatalf("basket after submit: %+v", b)
		}
		at := Attachment{Name: "ethics.pdf", Size: 3, SHA256: "abc", Key: "k1"}
		if r, err = s.AddAttachment(ctx, osloHolder, r.ID, at); err != nil || len(r.Attachments) != 1 || r.Attachments[0].Author != "olga" {
			t.Fatalf("attach: %+v %v", r, err)
		}
		if _, err := s.AddAttachment(ctx, researcher, r.ID, at); !errors.Is(err, ErrTransition) {
			t.Errorf("same name twice: %v", err)
		}
		if _, err := s.AddAttachment(ctx, other, r.ID, Attachment{Name: "x.pdf", Key: "k2"}); !errors.Is(err, ErrNotFound) {
			t.Errorf("an outsider attached: %v", err)
		}
		if _, err := s.AddAttachment(ctx, researcher, r.ID, Attachment{Name: "../x", Key: "k3"}); !errors.Is(err, ErrInvalid) {
			t.Errorf("a path as name: %v", err)
		}
		got, _ := s.Get(ctx, researcher, r.ID)
		if len(got.Attachments) != 1 || got.Attachments[0].Key != "k1" {
			t.Fatalf("attachments: %+v", got.Attachments)
		}
	})
}
