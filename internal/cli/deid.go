package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/cancerimage/cie/internal/deid"
	"github.com/cancerimage/cie/internal/deid/batch"
	"github.com/cancerimage/cie/internal/deid/profile"
)

// deidProfile is the YAML file --profile reads: options and safe private
// elements.
type deidProfile struct {
	Options     []string `yaml:"options"`
	SafePrivate []struct {
		Creator string `yaml:"creator"`
		Group   string `yaml:"group"`   // hex, e.g. "0019"
		Element string `yaml:"element"` // hex low byte, e.g. "0C"
	} `yaml:"safe_private"`
}

func deidCmd() *cobra.Command {
	var keyFile, reportPath, profilePath, quarantine, reidMap, reidKey string
	var workers int
	var optNames []string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "deid IN OUT",
		Short: "De-identify a folder or zip of DICOM files into a folder",
		Long: `De-identify every file of IN (a folder, read recursively, or a zip) into OUT by the
DICOM PS3.15 Basic Application Level Confidentiality Profile, with keyed pseudonyms:
the same --key-file gives the same pseudonyms in every run. Files that cannot be made
safe automatically (burned-in annotation, secondary capture and ultrasound images,
unknown SOP classes, unreadable files) are copied to the quarantine folder with their
reason, never to OUT. Every input file is accounted for in the summary and --report.

Options (--option, repeatable, or options: in a --profile YAML file):
  retain-safe-private, retain-uids, retain-device-identity, retain-institution-identity,
  retain-patient-characteristics, full-dates, modified-dates, clean-descriptors,
  clean-structured-content, clean-graphics`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keyFile == "" {
				return usageError{errors.New("--key-file is required: the secret that makes pseudonyms repeatable (at least 32 bytes; e.g. head -c 48 /dev/urandom | base64 > deid.key)")}
			}
			key, err := deid.ReadKeyFile(keyFile)
			if err != nil {
				return err
			}
			opts, err := loadDeidOptions(profilePath, optNames)
			if err != nil {
				return err
			}
			engine, err := deid.New(key, opts)
			if err != nil {
				return err
			}
			var rmap *deid.ReidMap
			var rkey []byte
			if reidMap != "" {
				if reidKey == "" {
					return usageError{errors.New("--reid-map needs --reid-key: the map is only ever written encrypted")}
				}
				if rkey, err = deid.ReadKeyFile(reidKey); err != nil {
					return err
				}
				rmap = deid.NewReidMap()
			}
			bar := newProgress(cmd.ErrOrStderr(), quiet)
			rep, runErr := batch.Run(cmd.Context(), batch.Options{In: args[0], Out: args[1], Quarantine: quarantine, Workers: workers,
				Engine: engine, Reid: rmap, Log: quietLogger(cmd), Progress: bar.update})
			bar.finish()
			if rep.FilesIn > 0 || runErr == nil {
				printDeidSummary(cmd.OutOrStdout(), rep)
			}
			if reportPath != "" && rep.Started != (time.Time{}) {
				b, _ := json.MarshalIndent(rep, "", "  ")
				if err := os.WriteFile(reportPath, b, 0o640); err != nil {
					return fmt.Errorf("writing report: %w", err)
				}
			}
			if rmap != nil && rep.FilesOut > 0 {
				if err := rmap.Write(reidMap, rkey); err != nil {
					return err
				}
			}
			return runErr
		},
	}
	f := cmd.Flags()
	f.StringVar(&keyFile, "key-file", os.Getenv("CIE_DEID_KEY_FILE"), "file holding the pseudonym key (env CIE_DEID_KEY_FILE)")
	f.StringSliceVar(&optNames, "option", nil, "a profile option (repeatable; see above)")
	f.StringVar(&profilePath, "profile", "", "YAML file with options: and safe_private: entries")
	f.IntVarP(&workers, "workers", "j", 0, "parallel workers (default: one per CPU)")
	f.StringVar(&quarantine, "quarantine", "", "folder for refused files (default OUT-quarantine)")
	f.StringVar(&reportPath, "report", "", "write a JSON report of every file here")
	f.StringVar(&reidMap, "reid-map", "", "write (or add to) the encrypted re-identification map here")
	f.StringVar(&reidKey, "reid-key", "", "the data holder's key file that encrypts the re-identification map")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress bar")
	return cmd
}

func loadDeidOptions(path string, names []string) (deid.Options, error) {
	var p deidProfile
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return deid.Options{}, fmt.Errorf("reading profile: %w", err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)
		if err := dec.Decode(&p); err != nil && !errors.Is(err, io.EOF) {
			return deid.Options{}, fmt.Errorf("profile %s: %w", path, err)
		}
	}
	opts, err := deid.ParseOptions(append(p.Options, names...))
	if err != nil {
		return opts, err
	}
	for i, sp := range p.SafePrivate {
		var g, e uint64
		if _, err := fmt.Sscanf(sp.Group, "%x", &g); err != nil || g > 0xFFFF {
			return opts, fmt.Errorf("profile %s: safe_private[%d].group %q is not a hex group", path, i, sp.Group)
		}
		if _, err := fmt.Sscanf(sp.Element, "%x", &e); err != nil || e > 0xFF {
			return opts, fmt.Errorf("profile %s: safe_private[%d].element %q is not a hex byte", path, i, sp.Element)
		}
		opts.SafePrivate = append(opts.SafePrivate, deid.SafePrivate{Creator: sp.Creator, Group: uint16(g), Element: uint8(e)})
	}
	if len(opts.SafePrivate) > 0 && !opts.Has(profile.RetainSafePrivate) {
		return opts, fmt.Errorf("profile %s: safe_private entries need the retain-safe-private option", path)
	}
	return opts, opts.Check()
}

func printDeidSummary(w io.Writer, r batch.Report) {
	mb := float64(r.BytesIn) / 1e6
	rate := 0.0
	if r.Seconds > 0 {
		rate = float64(r.FilesIn) / r.Seconds
	}
	dups := ""
	if r.Duplicates > 0 {
		dups = fmt.Sprintf(", %d duplicates of an instance already output", r.Duplicates)
	}
	fmt.Fprintf(w, "%d files in, %d de-identified, %d quarantined%s; %d patients, %d studies, %d series; %.1f MB in, %.1f MB out; %.2f s (%.0f files/s, %d workers)\n",
		r.FilesIn, r.FilesOut, r.Quarantined, dups, r.Patients, r.Studies, r.Series, mb, float64(r.BytesOut)/1e6, r.Seconds, rate, r.Workers)
	if r.Quarantined > 0 {
		reasons := make([]string, 0, len(r.ByReason))
		for k := range r.ByReason {
			reasons = append(reasons, k)
		}
		sort.Strings(reasons)
		fmt.Fprintf(w, "quarantined in %s:\n", r.Quarantine)
		for _, k := range reasons {
			fmt.Fprintf(w, "  %-28s %d\n", k, r.ByReason[k])
		}
	}
}

// progress draws a progress bar on a terminal.
type progress struct {
	w     io.Writer
	on    bool
	mu    sync.Mutex
	start time.Time
	last  time.Time
}

func newProgress(w io.Writer, quiet bool) *progress {
	p := &progress{w: w, start: time.Now()}
	if f, ok := w.(*os.File); ok && !quiet {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.on = true
		}
	}
	return p
}

func (p *progress) update(done, total int, bytesIn int64) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.last) < 100*time.Millisecond && done < total {
		return
	}
	p.last = time.Now()
	const width = 30
	fill := width
	if total > 0 {
		fill = done * width / total
	}
	secs := time.Since(p.start).Seconds()
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d files  %.1f MB/s ", strings.Repeat("#", fill), strings.Repeat(" ", width-fill), done, total, float64(bytesIn)/1e6/max(secs, 0.001))
}

func (p *progress) finish() {
	if p.on {
		fmt.Fprintln(p.w)
	}
}
