package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

func datasetCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "dataset", Short: "Work with a node's datasets"}
	var nodeURL, token string
	verify := &cobra.Command{
		Use:   "verify ID",
		Short: "Re-check a dataset's content against its SHA3-256 hash tree and name what changed",
		Long: `Asks the node to recompute the dataset's content hash tree from the stored files and
compare it with the tree recorded when the dataset was made. Prints OK, or every changed,
missing or added instance with its series and study, and exits with status 1.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if nodeURL == "" || token == "" {
				return usageError{errors.New("--node and --token (or env CIE_NODE_URL, CIE_TOKEN) are required")}
			}
			req, err := http.NewRequestWithContext(cmd.Context(), "GET", strings.TrimSuffix(nodeURL, "/")+"/api/v1/datasets/"+url.PathEscape(args[0])+"/verify", nil)
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Errorf("asking %s: %w", nodeURL, err)
			}
			defer resp.Body.Close()
			var v struct {
				Dataset, Error string
				Recorded       string `json:"recorded_root"`
				Found          string `json:"found_root"`
				OK             bool   `json:"ok"`
				Changes        []struct{ Study, Series, Instance, What string }
			}
			if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
				return fmt.Errorf("the node's answer (%s): %w", resp.Status, err)
			}
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s: %s", resp.Status, v.Error)
			}
			out := cmd.OutOrStdout()
			if v.OK {
				fmt.Fprintf(out, "%s: OK: content matches its recorded hash %s\n", v.Dataset, v.Recorded)
				return nil
			}
			fmt.Fprintf(out, "%s: CHANGED: recorded %s, found %s\n", v.Dataset, v.Recorded, v.Found)
			for _, c := range v.Changes {
				fmt.Fprintf(out, "  instance %s of series %s of study %s: %s\n", c.Instance, c.Series, c.Study, c.What)
			}
			return fmt.Errorf("dataset %s: %d instances differ from its recorded content", v.Dataset, len(v.Changes))
		},
	}
	verify.Flags().StringVar(&nodeURL, "node", os.Getenv("CIE_NODE_URL"), "the node's URL (env CIE_NODE_URL)")
	verify.Flags().StringVar(&token, "token", os.Getenv("CIE_TOKEN"), "a data holder's API token (env CIE_TOKEN)")
	cmd.AddCommand(verify)
	return cmd
}
