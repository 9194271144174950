package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/cancerimage/cie/internal/app"
	"github.com/cancerimage/cie/internal/audit"
	"github.com/cancerimage/cie/internal/bus"
	"github.com/cancerimage/cie/internal/hub"
)

func auditCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Check audit logs"}
	var rf roleFlags
	var dir, key, witnessKey, hubURL, token string
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Verify an audit log against its signed and witnessed checkpoints",
		Long: `Verify an audit log: every entry is read from disk and checked against its
neighbours (index and hash chain), the signed checkpoint of the log, and every checkpoint
the hub witnessed. The first bad entry is named.

  cie audit verify --node-config node.yaml             a node's log, with the witnessed
                                                       checkpoints it keeps
  cie audit verify --node-config node.yaml --hub URL --token T
                                                       also with the hub's own copies
  cie audit verify --hub-config hub.yaml               the hub's log
  cie audit verify --dir DIR --key VKEY [--witness-key VKEY]`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o := audit.VerifyOptions{Dir: dir}
			nodeName := ""
			switch {
			case rf.hub != "" || rf.node != "":
				role, err := rf.which()
				if err != nil {
					return err
				}
				if role == "hub" {
					cfg, err := app.LoadHubConfig(rf.hub, nil)
					if err != nil {
						return err
					}
					keys, err := hub.LoadKeys(cfg)
					if err != nil {
						return err
					}
					o.Dir, o.LogVerifier = filepath.Join(cfg.DataDir, "audit"), keys.AuditVerifier
				} else {
					cfg, err := app.LoadNodeConfig(rf.node, nil)
					if err != nil {
						return err
					}
					creds, err := bus.ReadCredentials(cfg.Credentials)
					if err != nil {
						return err
					}
					if o.LogVerifier, err = audit.VerifierFromSigner(creds.AuditKey); err != nil {
						return fmt.Errorf("credentials %s: audit_key: %w", cfg.Credentials, err)
					}
					if o.WitnessVerifier, err = note.NewVerifier(creds.HubKey); err != nil {
						return fmt.Errorf("credentials %s: hub_key: %w", cfg.Credentials, err)
					}
					o.Dir, nodeName = filepath.Join(cfg.DataDir, "audit"), cfg.Name
				}
			case dir != "" && key != "":
				v, err := note.NewVerifier(readKey(key))
				if err != nil {
					return fmt.Errorf("--key: %w", err)
				}
				o.LogVerifier = v
			default:
				return usageError{errors.New("give --node-config, --hub-config, or --dir with --key")}
			}
			if witnessKey != "" {
				v, err := note.NewVerifier(readKey(witnessKey))
				if err != nil {
					return fmt.Errorf("--witness-key: %w", err)
				}
				o.WitnessVerifier = v
			}
			if hubURL != "" {
				if nodeName == "" {
					return usageError{errors.New("--hub needs --node-config (whose witnessed checkpoints to fetch)")}
				}
				cps, err := fetchWitnessed(cmd, hubURL, token, nodeName)
				if err != nil {
					return err
				}
				o.Witnessed = append(o.Witnessed, cps...)
			}
			rep, err := audit.Verify(cmd.Context(), o)
			out := cmd.OutOrStdout()
			if err != nil {
				fmt.Fprintf(out, "audit log %s: FAILED\n", o.Dir)
				if rep.FirstBad >= 0 {
					fmt.Fprintf(out, "first bad entry: %d\n", rep.FirstBad)
				}
				if rep.Problem != "" {
					fmt.Fprintf(out, "problem: %s\n", rep.Problem)
				}
				return err
			}
			fmt.Fprintf(out, "audit log %s: OK: %d entries, checked against %d signed and %d witnessed checkpoints\n",
				o.Dir, rep.Size, rep.Checkpoints, rep.Witnessed)
			return nil
		},
	}
	rf.add(verify.Flags())
	verify.Flags().StringVar(&dir, "dir", "", "the log folder (with --key)")
	verify.Flags().StringVar(&key, "key", "", "the log's note verifier key, or a file holding it")
	verify.Flags().StringVar(&witnessKey, "witness-key", "", "the hub's note verifier key, or a file holding it")
	verify.Flags().StringVar(&hubURL, "hub", "", "fetch the checkpoints the hub witnessed for this node from the hub at this URL")
	verify.Flags().StringVar(&token, "token", os.Getenv("CIE_TOKEN"), "API token for --hub (env CIE_TOKEN)")
	cmd.AddCommand(verify)
	return cmd
}

func readKey(s string) string {
	if b, err := os.ReadFile(s); err == nil {
		return strings.TrimSpace(string(b))
	}
	return s
}

func fetchWitnessed(cmd *cobra.Command, hubURL, token, node string) ([][]byte, error) {
	req, err := http.NewRequestWithContext(cmd.Context(), http.MethodGet, strings.TrimRight(hubURL, "/")+"/api/v1/nodes/"+node+"/witnessed", nil)
	if err != nil {
		return nil, fmt.Errorf("--hub: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching witnessed checkpoints: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		Error       string `json:"error"`
		Checkpoints []struct {
			Checkpoint string `json:"checkpoint"`
		} `json:"checkpoints"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("fetching witnessed checkpoints: %s: %w", resp.Status, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching witnessed checkpoints: %s: %s", resp.Status, body.Error)
	}
	out := make([][]byte, 0, len(body.Checkpoints))
	for _, c := range body.Checkpoints {
		out = append(out, []byte(c.Checkpoint))
	}
	return out, nil
}
