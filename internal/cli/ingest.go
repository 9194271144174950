package cli

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cancerimage/cie/internal/node/dicomweb"
)

// maxZipEntry bounds one file taken from a zip.
const maxZipEntry = 2 << 30

func ingestCmd() *cobra.Command {
	var nodeURL, token string
	var batch int
	var quiet bool
	cmd := &cobra.Command{
		Use:   "ingest DIR|ZIP...",
		Short: "Send DICOM files from folders or zips to a running node (STOW-RS)",
		Long: `Sends every file below the folders (and in the zips) to a node's DICOMweb STOW-RS service,
in batches, with a progress bar on a terminal. The node de-identifies, stores and indexes
each file; files it cannot read or make safe go to its quarantine, with the reason, which
ingest lists at the end. Non-DICOM files are sent too: the node decides, and says why.

The token is a bearer token of a data holder or administrator of the node
(cie admin token add --node-config ...).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if nodeURL == "" {
				return usageError{errors.New("--node is required: the node's URL, e.g. http://127.0.0.1:8081")}
			}
			if token == "" {
				return usageError{errors.New("--token is required (or env CIE_TOKEN): a data holder's or node admin's API token")}
			}
			parts, err := collectParts(args)
			if err != nil {
				return err
			}
			if len(parts) == 0 {
				return fmt.Errorf("no files found in %s", strings.Join(args, ", "))
			}
			c := &dicomweb.Client{BaseURL: strings.TrimSuffix(nodeURL, "/") + "/dicomweb", Token: token}
			bar := newProgress(cmd.ErrOrStderr(), quiet)
			start := time.Now()
			var stored, failed int
			var warnings []string
			for i := 0; i < len(parts); i += batch {
				chunk := parts[i:min(i+batch, len(parts))]
				res, err := c.Store(cmd.Context(), chunk)
				if err != nil {
					bar.finish()
					return fmt.Errorf("after %d of %d files: %w", i, len(parts), err)
				}
				stored += res.Stored
				failed += res.Failed
				for _, w := range res.Warnings {
					warnings = append(warnings, renamePart(w, chunk))
				}
				bar.update(i+len(chunk), len(parts), 0)
			}
			bar.finish()
			out := cmd.OutOrStdout()
			dups := 0
			for _, w := range warnings {
				if strings.Contains(w, "already stored") {
					dups++
				}
			}
			fmt.Fprintf(out, "%d files sent in %s: %d stored (%d of them already there), %d not stored\n",
				len(parts), time.Since(start).Round(time.Millisecond), stored, dups, failed)
			sort.Strings(warnings)
			for _, w := range warnings {
				if !strings.Contains(w, "already stored") {
					fmt.Fprintln(out, "  "+w)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&nodeURL, "node", os.Getenv("CIE_NODE_URL"), "the node's URL (env CIE_NODE_URL)")
	f.StringVar(&token, "token", os.Getenv("CIE_TOKEN"), "API token (env CIE_TOKEN)")
	f.IntVar(&batch, "batch", 20, "files per STOW-RS request")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress bar")
	return cmd
}

// renamePart replaces "part N" in a node warning by the file's name.
func renamePart(w string, chunk []dicomweb.Part) string {
	var n int
	if _, err := fmt.Sscanf(w, "part %d:", &n); err == nil && n >= 1 && n <= len(chunk) {
		return chunk[n-1].Name + strings.TrimPrefix(w, fmt.Sprintf("part %d", n))
	}
	return w
}

// collectParts lists the files below folders, the entries of zips, and plain files.
func collectParts(args []string) ([]dicomweb.Part, error) {
	var parts []dicomweb.Part
	for _, arg := range args {
		st, err := os.Stat(arg)
		if err != nil {
			return nil, err
		}
		switch {
		case st.IsDir():
			err := filepath.WalkDir(arg, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if d.Type().IsRegular() {
					parts = append(parts, filePart(p))
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		case strings.EqualFold(filepath.Ext(arg), ".zip"):
			zr, err := zip.OpenReader(arg)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", arg, err)
			}
			// The zip stays open for the command's life; entries are opened as they are sent.
			for _, zf := range zr.File {
				if zf.FileInfo().IsDir() {
					continue
				}
				if zf.UncompressedSize64 > maxZipEntry {
					return nil, fmt.Errorf("%s: entry %s is larger than %d bytes", arg, zf.Name, maxZipEntry)
				}
				zf := zf
				parts = append(parts, dicomweb.Part{Name: arg + ":" + zf.Name, Open: zf.Open})
			}
		default:
			parts = append(parts, filePart(arg))
		}
	}
	return parts, nil
}

func filePart(p string) dicomweb.Part {
	return dicomweb.Part{Name: p, Open: func() (io.ReadCloser, error) { return os.Open(p) }}
}
