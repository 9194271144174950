package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/klog/v2"

	"github.com/cancerimage/cie/internal/app"
	"github.com/cancerimage/cie/internal/config"
	"github.com/cancerimage/cie/internal/hub"
	"github.com/cancerimage/cie/internal/node"
	"github.com/cancerimage/cie/internal/version"
)

// Main runs the cie command line with args (without the program name) and
// returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := NewRoot(stdout, stderr)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(stderr, "cie: %v\n", err)
		var ue usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}

type usageError struct{ error }

// NewRoot returns the root command.
func NewRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "cie",
		Short: "cie: a federated infrastructure for cancer images",
		Long: `cie is one binary with several roles:

  cie demo      a hub and three nodes on this machine, with logins (start here)
  cie hub       the hub: catalogue, search broker, access, the bus that nodes dial
  cie node      a node at a hospital: its data, its audit log, its own pages

and tools: cie admin (nodes, users, tokens), cie download (granted studies), cie migrate, cie audit verify, cie version.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (see cie %s --help)", err, c.Name())}
	})
	root.AddCommand(hubCmd(), nodeCmd(), demoCmd(), deidCmd(), ingestCmd(), datasetCmd(), clinicalCmd(), downloadCmd(), migrateCmd(), adminCmd(), auditCmd(), versionCmd())
	return root
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), "cie", version.String())
			return nil
		},
	}
}

// configFlags registers a flag for every field of cfg (a pointer to a role's
// default config) and returns a function that collects the flags set.
func configFlags(fs *pflag.FlagSet, cfg any) func() map[string]string {
	fields := config.Fields(cfg)
	for _, f := range fields {
		fs.String(f.Flag, "", fmt.Sprintf("%s (env %s, default %q)", f.Help, f.Env, f.String()))
	}
	return func() map[string]string {
		out := map[string]string{}
		for _, f := range fields {
			if fl := fs.Lookup(f.Flag); fl != nil && fl.Changed {
				out[f.Key] = fl.Value.String()
			}
		}
		return out
	}
}

func hubCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "hub",
		Short: "Run the hub",
		Long:  "Run the hub from a YAML config (--config); every field can also be set with a CIE_* variable or a flag.",
		Args:  cobra.NoArgs,
	}
	def := hub.DefaultConfig()
	flags := configFlags(cmd.Flags(), &def)
	cmd.Flags().StringVarP(&path, "config", "c", os.Getenv("CIE_CONFIG"), "hub config file (YAML)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		cfg, err := app.LoadHubConfig(path, flags())
		if err != nil {
			return err
		}
		log := app.NewLogger(cmd.ErrOrStderr(), cfg.Log.Level, cfg.Log.Format)
		routeLibraryLogs(log)
		return app.RunHub(cmd.Context(), cfg, log)
	}
	return cmd
}

func nodeCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Run a node",
		Long:  "Run a node from a YAML config (--config); every field can also be set with a CIE_* variable or a flag. The node dials the hub with the credentials file from 'cie admin node add'.",
		Args:  cobra.NoArgs,
	}
	def := node.DefaultConfig()
	flags := configFlags(cmd.Flags(), &def)
	cmd.Flags().StringVarP(&path, "config", "c", os.Getenv("CIE_CONFIG"), "node config file (YAML)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		cfg, err := app.LoadNodeConfig(path, flags())
		if err != nil {
			return err
		}
		log := app.NewLogger(cmd.ErrOrStderr(), cfg.Log.Level, cfg.Log.Format)
		routeLibraryLogs(log)
		return app.RunNode(cmd.Context(), cfg, log)
	}
	return cmd
}

func demoCmd() *cobra.Command {
	var dir string
	var random bool
	var patients int
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a hub and three nodes on this machine, with demo logins",
		Long: `Run a hub and three nodes (oslo, valencia, linkoping) on 127.0.0.1, each node with
its own data folder, store, blob folder, DICOM port and connection to the hub. On the
first start each node is filled with generated patients (CT, MR and PET studies with a
lesion, segmentations, a clinical table) sent to it over DICOM C-STORE, so they go
through its de-identification. Everything is kept under --dir; DIR/demo.json lists the
URLs and the logins with their API tokens. Ctrl-C stops everything; running it again
reuses the data.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("finding the cie binary: %w", err)
			}
			log := app.NewLogger(cmd.ErrOrStderr(), "warn", "text")
			if patients < 1 || patients > 200 {
				return usageError{fmt.Errorf("--patients %d: want 1 to 200", patients)}
			}
			return app.Demo(cmd.Context(), app.DemoOptions{Dir: dir, Exe: exe, Out: cmd.OutOrStdout(), Log: log, RandomPorts: random, Patients: patients})
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "./cie-demo", "folder for all of the demo's data")
	cmd.Flags().BoolVar(&random, "random-ports", false, "use free ports instead of 8080-8083, 11112-11114 and 4222")
	cmd.Flags().IntVar(&patients, "patients", app.DemoPatients, "generated patients per node, on the first start")
	return cmd
}

// routeLibraryLogs sends the logs of libraries that log through klog (the
// tessera audit log) to the role's logger instead of raw stderr.
func routeLibraryLogs(log *slog.Logger) {
	klog.SetSlogLogger(log.With("component", "tessera"))
}

// roleFlags are the flags of tools that act on a role's stores.
type roleFlags struct {
	hub  string
	node string
}

func (r *roleFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&r.hub, "hub-config", "", "act on the hub with this config file")
	fs.StringVar(&r.node, "node-config", "", "act on the node with this config file")
}

func (r *roleFlags) which() (string, error) {
	switch {
	case r.hub != "" && r.node != "":
		return "", usageError{errors.New("give --hub-config or --node-config, not both")}
	case r.hub != "":
		return "hub", nil
	case r.node != "":
		return "node", nil
	}
	return "", usageError{errors.New("give --hub-config FILE or --node-config FILE")}
}
