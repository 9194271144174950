package cli

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cancerimage/cie/internal/app"
	"github.com/cancerimage/cie/internal/auth"
	"github.com/cancerimage/cie/internal/bus"
	"github.com/cancerimage/cie/internal/hub"
	"github.com/cancerimage/cie/internal/hub/members"
	"github.com/cancerimage/cie/internal/hub/migrations"
	nodemig "github.com/cancerimage/cie/internal/node/migrations"
	"github.com/cancerimage/cie/internal/store"
)

func quietLogger(cmd *cobra.Command) *slog.Logger {
	return app.NewLogger(cmd.ErrOrStderr(), "warn", "text")
}

// roleStore is the SQL store of the role that --hub-config or --node-config names.
type roleStore struct {
	db    *store.DB
	role  string // "hub" or "node"
	url   string
	fsys  fs.FS // the role's migrations
	table string
}

// openRoleStore opens the store of the role the flags name; with migrate it
// also applies the role's migrations (as the role does at start).
func openRoleStore(ctx context.Context, cmd *cobra.Command, rf *roleFlags, migrate bool) (roleStore, error) {
	role, err := rf.which()
	if err != nil {
		return roleStore{}, err
	}
	rs := roleStore{role: role, fsys: migrations.FS, table: migrations.Table}
	if role == "hub" {
		cfg, err := app.LoadHubConfig(rf.hub, nil)
		if err != nil {
			return rs, err
		}
		rs.url = cfg.DB
	} else {
		cfg, err := app.LoadNodeConfig(rf.node, nil)
		if err != nil {
			return rs, err
		}
		rs.url, rs.fsys, rs.table = cfg.DB, nodemig.FS, nodemig.Table
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return rs, fmt.Errorf("creating data folder: %w", err)
		}
	}
	if migrate {
		rs.db, err = store.OpenMigrated(ctx, rs.url, quietLogger(cmd), rs.fsys, rs.table)
	} else {
		rs.db, err = store.Open(ctx, rs.url, quietLogger(cmd))
	}
	return rs, err
}

// withUsers runs fn on the users of the role the flags name.
func withUsers(cmd *cobra.Command, rf *roleFlags, fn func(u *auth.Users, role string) error) error {
	rs, err := openRoleStore(cmd.Context(), cmd, rf, true)
	if err != nil {
		return err
	}
	defer rs.db.Close()
	return fn(auth.NewUsers(rs.db), rs.role)
}

func migrateCmd() *cobra.Command {
	var rf roleFlags
	var status bool
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the SQL migrations of the hub's or a node's store",
		Long:  "Apply the embedded SQL migrations to the store named in the config (SQLite or PostgreSQL). Roles also migrate at start; use this to do it ahead, or --status to see where a store is.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			rs, err := openRoleStore(ctx, cmd, &rf, !status)
			if err != nil {
				return err
			}
			defer rs.db.Close()
			states, err := rs.db.MigrationStatus(ctx, rs.fsys, rs.table)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s store %s (%s):\n", rs.role, store.Redact(rs.url), rs.db.Dialect())
			for _, s := range states {
				state := "pending"
				if s.Applied {
					state = "applied " + s.AppliedAt.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(out, "  %05d %-30s %s\n", s.Version, s.Source, state)
			}
			return nil
		},
	}
	rf.add(cmd.Flags())
	cmd.Flags().BoolVar(&status, "status", false, "only show which migrations are applied")
	return cmd
}

func adminCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "admin", Short: "Register nodes, manage users and API tokens"}
	cmd.AddCommand(adminNodeCmd(), adminUserCmd(), adminTokenCmd())
	return cmd
}

func adminNodeCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "node", Short: "Register and list nodes (on the hub)"}
	var hubConfig, out string
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Register a node and write its credentials file",
		Long: `Register a node at the hub and write the credentials file the node dials the hub
with (its bus key, the hub's bus URL and audit key, and the node's audit signing key).
Give the file to the node's operator over a safe channel; it is shown nowhere else.
A running hub picks the registration up within seconds.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfg, err := app.LoadHubConfig(hubConfig, nil)
			if err != nil {
				return err
			}
			db, err := hub.OpenStore(ctx, cfg, quietLogger(cmd))
			if err != nil {
				return err
			}
			defer db.Close()
			keys, err := hub.LoadKeys(cfg)
			if err != nil {
				return err
			}
			if out == "" {
				out = args[0] + ".creds"
			}
			if _, err := os.Stat(out); err == nil {
				return fmt.Errorf("%s exists already; choose another --out", out)
			}
			creds, err := hub.RegisterNode(ctx, db, cfg, keys, args[0], actor())
			if err != nil {
				return err
			}
			if err := bus.WriteCredentials(out, creds); err != nil {
				return err
			}
			abs, _ := filepath.Abs(out)
			fmt.Fprintf(cmd.OutOrStdout(), "Registered node %s. Credentials: %s\nOn the node, set credentials: %s in node.yaml (or CIE_CREDENTIALS) and run cie node.\n", args[0], abs, abs)
			return nil
		},
	}
	add.Flags().StringVar(&hubConfig, "hub-config", "", "the hub's config file")
	add.Flags().StringVarP(&out, "out", "o", "", "where to write the credentials (default NAME.creds)")
	list := &cobra.Command{
		Use:   "list",
		Short: "List registered nodes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := app.LoadHubConfig(hubConfig, nil)
			if err != nil {
				return err
			}
			db, err := hub.OpenStore(cmd.Context(), cfg, quietLogger(cmd))
			if err != nil {
				return err
			}
			defer db.Close()
			names, err := hub.RegisteredNodes(cmd.Context(), db)
			if err != nil {
				return err
			}
			for _, n := range names {
				fmt.Fprintln(cmd.OutOrStdout(), n)
			}
			return nil
		},
	}
	list.Flags().StringVar(&hubConfig, "hub-config", "", "the hub's config file")
	cmd.AddCommand(add, list)
	return cmd
}

// actor names who runs an admin command, for the audit log.
func actor() string {
	if u := os.Getenv("USER"); u != "" {
		return "cli:" + u
	}
	return "cli"
}

// withHubMembers runs fn on the users and memberships of the hub store the flags name;
// at a node it fails, naming the flag that only the hub takes.
func withHubMembers(cmd *cobra.Command, rf *roleFlags, flag string, fn func(u *auth.Users, m *members.Store) error) error {
	rs, err := openRoleStore(cmd.Context(), cmd, rf, true)
	if err != nil {
		return err
	}
	defer rs.db.Close()
	if rs.role != "hub" {
		return fmt.Errorf("%s: nodes of a user are kept at the hub; use --hub-config", flag)
	}
	return fn(auth.NewUsers(rs.db), members.New(rs.db))
}

func adminUserCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Add and list local users (hub or node)"}
	var rf roleFlags
	var role, password string
	var nodes []string
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Add a user, or change its role and password",
		Long: `Add a user, or change its role and password. At the hub, --node makes a data holder or
node admin a member of that node (repeat it for several; it replaces the user's nodes):
they decide on access requests for that node's datasets.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := members.Check(nodes); err != nil {
				return fmt.Errorf("--node: %w", err)
			}
			save := func(users *auth.Users, where string) error {
				generated := password == ""
				if generated {
					password = auth.RandomSecret(12)
				}
				if err := users.Put(cmd.Context(), args[0], role, password); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "User %s (%s) saved at the %s.\n", args[0], role, where)
				if generated {
					fmt.Fprintf(cmd.OutOrStdout(), "Password: %s\n", password)
				}
				return nil
			}
			if !cmd.Flags().Changed("node") {
				return withUsers(cmd, &rf, save)
			}
			return withHubMembers(cmd, &rf, "--node", func(users *auth.Users, m *members.Store) error {
				if err := save(users, "hub"); err != nil {
					return err
				}
				if err := m.Set(cmd.Context(), args[0], nodes); err != nil {
					return err
				}
				ns, err := m.Nodes(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Nodes of %s: %s\n", args[0], nodeList(ns))
				return nil
			})
		},
	}
	rf.add(add.Flags())
	add.Flags().StringVar(&role, "role", auth.RoleResearcher, "researcher, data_holder, node_admin or platform_admin")
	add.Flags().StringVar(&password, "password", "", "the password (default: a generated one, printed once)")
	add.Flags().StringArrayVar(&nodes, "node", nil, "at the hub: a node the user holds data of or administers (repeatable; replaces the user's nodes)")
	var nf roleFlags
	var none bool
	nodesCmd := &cobra.Command{
		Use:   "nodes NAME [NODE...]",
		Short: "Show or set the nodes a hub user belongs to",
		Long:  "Without NODE, print the nodes of user NAME at the hub; with NODEs, make them its nodes (replacing the old ones); --none removes all.",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withHubMembers(cmd, &nf, "nodes", func(users *auth.Users, m *members.Store) error {
				ctx := cmd.Context()
				if _, err := users.Get(ctx, args[0]); err != nil {
					return err
				}
				if len(args) > 1 || none {
					if none && len(args) > 1 {
						return fmt.Errorf("--none with nodes: give one or the other")
					}
					if err := m.Set(ctx, args[0], args[1:]); err != nil {
						return err
					}
				}
				ns, err := m.Nodes(ctx, args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Nodes of %s: %s\n", args[0], nodeList(ns))
				return nil
			})
		},
	}
	nf.add(nodesCmd.Flags())
	nodesCmd.Flags().BoolVar(&none, "none", false, "remove the user from every node")
	var lf roleFlags
	list := &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			rs, err := openRoleStore(cmd.Context(), cmd, &lf, true)
			if err != nil {
				return err
			}
			defer rs.db.Close()
			us, err := auth.NewUsers(rs.db).List(cmd.Context())
			if err != nil {
				return err
			}
			var of map[string][]string
			if rs.role == "hub" {
				if of, err = members.New(rs.db).All(cmd.Context()); err != nil {
					return err
				}
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			if of != nil {
				fmt.Fprintln(tw, "NAME\tROLE\tNODES\tCREATED")
			} else {
				fmt.Fprintln(tw, "NAME\tROLE\tCREATED")
			}
			for _, u := range us {
				if of != nil {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, u.Role, nodeList(of[u.Name]), u.Created.Format(time.RFC3339))
				} else {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", u.Name, u.Role, u.Created.Format(time.RFC3339))
				}
			}
			return tw.Flush()
		},
	}
	lf.add(list.Flags())
	cmd.AddCommand(add, nodesCmd, list)
	return cmd
}

func nodeList(nodes []string) string {
	if len(nodes) == 0 {
		return "-"
	}
	return strings.Join(nodes, ",")
}

func adminTokenCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Issue, list and revoke API bearer tokens (hub or node)"}
	var af, lf, rf roleFlags
	var label string
	add := &cobra.Command{
		Use:   "add USER",
		Short: "Issue a bearer token for a user (printed once)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withUsers(cmd, &af, func(users *auth.Users, _ string) error {
				if _, err := users.Get(cmd.Context(), args[0]); err != nil {
					return err
				}
				tok, t, err := users.IssueToken(cmd.Context(), args[0], label)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "Token %s for %s (shown once):\n", t.ID, args[0])
				fmt.Fprintln(cmd.OutOrStdout(), tok)
				return nil
			})
		},
	}
	af.add(add.Flags())
	add.Flags().StringVar(&label, "label", "cli", "what the token is for")
	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens (never the tokens themselves)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withUsers(cmd, &lf, func(users *auth.Users, _ string) error {
				ts, err := users.Tokens(cmd.Context(), "")
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tUSER\tLABEL\tCREATED\tREVOKED")
				for _, t := range ts {
					rev := "-"
					if !t.Revoked.IsZero() {
						rev = t.Revoked.Format(time.RFC3339)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.User, t.Label, t.Created.Format(time.RFC3339), rev)
				}
				return tw.Flush()
			})
		},
	}
	lf.add(list.Flags())
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withUsers(cmd, &rf, func(users *auth.Users, _ string) error {
				if err := users.RevokeToken(cmd.Context(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Token %s revoked.\n", args[0])
				return nil
			})
		},
	}
	rf.add(revoke.Flags())
	cmd.AddCommand(add, list, revoke)
	return cmd
}
