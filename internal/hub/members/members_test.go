package members

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cancerimage/cie/internal/auth"
	"github.com/cancerimage/cie/internal/fed"
	"github.com/cancerimage/cie/internal/hub/migrations"
	"github.com/cancerimage/cie/internal/store"
	"github.com/cancerimage/cie/internal/testenv"
)

func TestMembers(t *testing.T) {
	for _, e := range []struct {
		name string
		url  func(testing.TB) string
	}{
		{"sqlite", func(t testing.TB) string { return filepath.Join(t.TempDir(), "hub.db") }},
		{"postgres", testenv.Postgres},
	} {
		t.Run(e.name, func(t *testing.T) {
			ctx := context.Background()
			db, err := store.OpenMigrated(ctx, e.url(t), slog.New(slog.DiscardHandler), migrations.FS, migrations.Table)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			users := auth.NewUsers(db)
			for _, u := range []string{"olga", "vera"} {
				if err := users.Put(ctx, u, auth.RoleDataHolder, "long enough"); err != nil {
					t.Fatal(err)
				}
			}
			m := New(db)
			if err := m.Set(ctx, "olga", []string{"oslo", "valencia", "oslo"}); err != nil {
				t.Fatal(err)
			}
			if err := m.Set(ctx, "vera", []string{"valencia"}); err != nil {
				t.Fatal(err)
			}
			if n, _ := m.Nodes(ctx, "olga"); !slices.Equal(n, []string{"oslo", "valencia"}) {
				t.Errorf("olga's nodes: %v", n)
			}
			if u, _ := m.Users(ctx, "valencia"); !slices.Equal(u, []string{"olga", "vera"}) {
				t.Errorf("valencia's members: %v", u)
			}
			// Set replaces; a bad name changes nothing.
			if err := m.Set(ctx, "olga", []string{"linkoping", "Bad Name"}); !errors.Is(err, fed.ErrBadName) {
				t.Errorf("bad node name: %v", err)
			}
			if n, _ := m.Nodes(ctx, "olga"); !slices.Equal(n, []string{"oslo", "valencia"}) {
				t.Errorf("after a failed set: %v", n)
			}
			if err := m.Set(ctx, "olga", []string{"linkoping"}); err != nil {
				t.Fatal(err)
			}
			all, _ := m.All(ctx)
			if !slices.Equal(all["olga"], []string{"linkoping"}) || !slices.Equal(all["vera"], []string{"valencia"}) {
				t.Errorf("all: %v", all)
			}
			// Only existing users can be members.
			if err := m.Set(ctx, "ghost", []string{"oslo"}); err == nil {
				t.Error("a member who is no user")
			}
		})
	}
}
