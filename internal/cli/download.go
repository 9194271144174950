package cli

import (
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func downloadCmd() *cobra.Command {
	var d downloader
	var studies []string
	var dataset string
	cmd := &cobra.Command{
		Use:   "download",
		Short: "Download granted studies through the hub as DICOM files",
		Long: `Downloads studies you hold a download visa for, through the hub's relay of the node's
DICOMweb (each study as one ZIP, unpacked as it arrives into OUT/study/series/instance.dcm).
The node checks your visa; the hub carries it for you. Authenticate with a personal API
token of the hub (its "API tokens" page).

  cie download --hub URL --token TOKEN --node NODE --study UID [--study UID…] [--out DIR]
  cie download --hub URL --token TOKEN --dataset ID [--out DIR]   (every study of the dataset)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if d.hub == "" {
				d.hub = os.Getenv("CIE_HUB_URL")
			}
			if d.token == "" {
				d.token = os.Getenv("CIE_TOKEN")
			}
			switch {
			case d.hub == "" || d.token == "":
				return usageError{errors.New("--hub and --token (or env CIE_HUB_URL, CIE_TOKEN) are required")}
			case (dataset == "") == (len(studies) == 0):
				return usageError{errors.New("give either --dataset or --study (with --node)")}
			case len(studies) > 0 && d.node == "":
				return usageError{errors.New("--study needs --node")}
			}
			d.hub = strings.TrimSuffix(d.hub, "/")
			d.progress = cmd.ErrOrStderr()
			if d.http == nil {
				d.http = &http.Client{}
			}
			if err := os.MkdirAll(d.out, 0o755); err != nil {
				return err
			}
			if dataset != "" {
				node, list, err := d.datasetStudies(cmd.Context(), dataset)
				if err != nil {
					return err
				}
				if d.node != "" && d.node != node {
					return fmt.Errorf("dataset %s is at node %s, not %s", dataset, node, d.node)
				}
				d.node, studies = node, list
				if len(studies) == 0 {
					return fmt.Errorf("node %s lists no studies of dataset %s for you", node, dataset)
				}
			}
			start := time.Now()
			var files int
			var bytes int64
			var failed []string
			for i, st := range studies {
				n, b, err := d.study(cmd.Context(), st, fmt.Sprintf("%d/%d", i+1, len(studies)))
				files, bytes = files+n, bytes+b
				if err != nil {
					fmt.Fprintf(d.progress, "study %s: %v\n", st, err)
					failed = append(failed, st)
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d of %d studies from node %s: %d files, %s in %s, in %s\n", len(studies)-len(failed), len(studies),
				d.node, files, mb(bytes), time.Since(start).Round(100*time.Millisecond), d.out)
			if len(failed) > 0 {
				return fmt.Errorf("%d of %d studies could not be downloaded", len(failed), len(studies))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&d.hub, "hub", "", "the hub's URL (env CIE_HUB_URL)")
	f.StringVar(&d.token, "token", "", "a personal API token of the hub (env CIE_TOKEN)")
	f.StringVar(&d.node, "node", "", "the node holding the studies")
	f.StringArrayVar(&studies, "study", nil, "a Study Instance UID (repeatable)")
	f.StringVar(&dataset, "dataset", "", "a catalogue dataset: every study of it you may download")
	f.StringVar(&d.out, "out", ".", "the folder to write OUT/study/series/instance.dcm into")
	return cmd
}

// downloader fetches studies through a hub's relay.
type downloader struct {
	hub, token, node, out string
	http                  *http.Client
	progress              io.Writer
}

func (d *downloader) get(ctx context.Context, u, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+d.token)
	req.Header.Set("Accept", accept)
	resp, err := d.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("asking %s: %w", d.hub, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return nil, fmt.Errorf("%s: %s", resp.Status, e.Error)
		}
		return nil, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return resp, nil
}

// datasetStudies lists every study of dataset the hub's images API shows for the user.
func (d *downloader) datasetStudies(ctx context.Context, dataset string) (string, []string, error) {
	var node string
	var out []string
	for offset := 0; ; {
		resp, err := d.get(ctx, d.hub+"/api/v1/images/"+url.PathEscape(dataset)+"?offset="+strconv.Itoa(offset), "application/json")
		if err != nil {
			return "", nil, fmt.Errorf("dataset %s: %w", dataset, err)
		}
		var g struct {
			Node    string `json:"node"`
			More    bool   `json:"more"`
			Studies []struct {
				UID string `json:"uid"`
			} `json:"studies"`
		}
		err = json.NewDecoder(resp.Body).Decode(&g)
		resp.Body.Close()
		if err != nil {
			return "", nil, fmt.Errorf("dataset %s: the hub's answer: %w", dataset, err)
		}
		node = g.Node
		for _, s := range g.Studies {
			out = append(out, s.UID)
		}
		if !g.More || len(g.Studies) == 0 {
			return node, out, nil
		}
		offset += len(g.Studies)
	}
}

// study downloads one study as a ZIP into a temporary file beside the output, then
// unpacks it; it returns the files written and the bytes received.
func (d *downloader) study(ctx context.Context, uid, nth string) (int, int64, error) {
	resp, err := d.get(ctx, d.hub+"/nodes/"+url.PathEscape(d.node)+"/dicomweb/studies/"+url.PathEscape(uid), "application/zip")
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/zip" {
		return 0, 0, fmt.Errorf("the answer is %q, not application/zip", ct)
	}
	tmp, err := os.CreateTemp(d.out, ".cie-download-*.zip")
	if err != nil {
		return 0, 0, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	pw := &progressWriter{w: tmp, out: d.progress, label: "study " + nth + " " + uid, start: time.Now()}
	n, err := io.Copy(pw, resp.Body)
	pw.line(true)
	if err != nil {
		return 0, n, fmt.Errorf("after %s: %w", mb(n), err)
	}
	files, err := unzipTo(tmp, n, d.out)
	if err != nil {
		return files, n, err
	}
	fmt.Fprintf(d.progress, "study %s %s: %d files\n", nth, uid, files)
	return files, n, nil
}

// unzipTo writes the files of the ZIP r into dir; entry names must be local paths.
func unzipTo(r io.ReaderAt, size int64, dir string) (int, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return 0, fmt.Errorf("not a complete ZIP: %w", err)
	}
	n := 0
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "/") {
			continue
		}
		if !filepath.IsLocal(f.Name) || strings.Contains(f.Name, `\`) {
			return n, fmt.Errorf("the ZIP holds %q, which is not a local file name", f.Name)
		}
		if err := writeEntry(f, filepath.Join(dir, filepath.FromSlash(f.Name))); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// writeEntry writes one ZIP entry to path, through a temporary file (a file is there
// whole, or not at all); reading checks the entry's CRC-32.
func writeEntry(f *zip.File, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("%s: %w", f.Name, err)
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(filepath.Dir(path), ".part-*")
	if err != nil {
		return err
	}
	_, err = io.Copy(tmp, rc)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("%s: %w", f.Name, err)
	}
	return nil
}

// progressWriter counts what passes and prints a progress line at most every 200 ms.
type progressWriter struct {
	w     io.Writer
	out   io.Writer
	label string
	n     int64
	start time.Time
	last  time.Time
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.n += int64(n)
	if time.Since(p.last) > 200*time.Millisecond {
		p.line(false)
	}
	return n, err
}

// line prints the progress, ending it with a newline when final.
func (p *progressWriter) line(final bool) {
	p.last = time.Now()
	rate := float64(p.n) / 1e6 / max(time.Since(p.start).Seconds(), 1e-3)
	end := ""
	if final {
		end = "\n"
	}
	fmt.Fprintf(p.out, "\r%s: %s received (%.1f MB/s)%s", p.label, mb(p.n), rate, end)
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
