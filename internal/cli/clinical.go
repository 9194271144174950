package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cancerimage/cie/internal/app"
	"github.com/cancerimage/cie/internal/cdm"
	"github.com/cancerimage/cie/internal/node"
)

func clinicalCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "clinical", Short: "Import clinical data into a node's common data model"}
	var mappingPath, nodeConfig, nodeURL, token, idSystem, format string
	var issuers []string
	var pseudonymized, asJSON bool
	imp := &cobra.Command{
		Use:   "import FILE",
		Short: "Import a CSV file (with --mapping) or a FHIR R4 bundle into a node's CDM tables",
		Long: `Imports clinical data into a node's common data model (EUCAIM CDM, after mCODE):
a CSV file with a mapping (--mapping: YAML, or a CSV template with the columns
local_variable,entity,element,standard,example,value_map,options), or a FHIR R4 bundle
(JSON: Patient, Condition, Observation, Procedure, Medication…, ImagingStudy).

Patient IDs are the hospital's, as in the DICOM files: they are turned into the node's
pseudonyms with its de-identification key, so the rows join the node's images (a mapping's
patient_id.pseudonymized, or --pseudonymized for a bundle, says they are pseudonyms
already). Lines that cannot be read are listed with their number and reason; the rest is
imported, and the command then exits with status 1. Importing the same file again
changes nothing.

Either through the node's API (--node URL --token T, a data holder's token; recorded in
the node's audit log), or directly into its store (--node-config node.yaml, on the node's
machine: reads its key file; recorded in the import log but not the audit log).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			var mapping []byte
			if mappingPath != "" {
				if mapping, err = os.ReadFile(mappingPath); err != nil {
					return err
				}
			}
			var rep *cdm.Report
			switch {
			case nodeURL != "" && nodeConfig != "":
				return usageError{errors.New("give --node (with --token) or --node-config, not both")}
			case nodeURL != "":
				if token == "" {
					return usageError{errors.New("--token (or env CIE_TOKEN) is required with --node")}
				}
				rep, err = clinicalViaAPI(cmd, nodeURL, token, filepath.Base(args[0]), data, mapping, format, pseudonymized, idSystem, issuers)
			case nodeConfig != "":
				rep, err = clinicalDirect(cmd, nodeConfig, filepath.Base(args[0]), data, mapping, format, pseudonymized, idSystem, issuers)
			default:
				return usageError{errors.New("--node URL --token T, or --node-config node.yaml, is required")}
			}
			if err != nil {
				return err
			}
			return printClinicalReport(cmd.OutOrStdout(), rep, asJSON)
		},
	}
	f := imp.Flags()
	f.StringVar(&mappingPath, "mapping", "", "the CSV file's mapping (YAML or CSV template); required for CSV")
	f.StringVar(&nodeConfig, "node-config", "", "the node's config file: import directly into its store with its key")
	f.StringVar(&nodeURL, "node", os.Getenv("CIE_NODE_URL"), "the node's URL, to import through its API (env CIE_NODE_URL)")
	f.StringVar(&token, "token", os.Getenv("CIE_TOKEN"), "a data holder's API token (env CIE_TOKEN)")
	f.StringVar(&format, "format", "", "csv or fhir (default: fhir if the file starts with '{')")
	f.BoolVar(&pseudonymized, "pseudonymized", false, "FHIR: the patient IDs are the node's pseudonyms already")
	f.StringVar(&idSystem, "identifier-system", "", "FHIR: the Patient.identifier system whose value is the DICOM Patient ID")
	f.StringSliceVar(&issuers, "issuer", nil, "FHIR: Issuer of Patient ID of the patients' DICOM files (repeatable)")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.AddCommand(imp)
	return cmd
}

func clinicalDirect(cmd *cobra.Command, configPath, source string, data, mapping []byte, format string, pseudonymized bool, idSystem string, issuers []string) (*cdm.Report, error) {
	cfg, err := app.LoadNodeConfig(configPath, nil)
	if err != nil {
		return nil, err
	}
	im, closeDB, err := node.OpenClinical(cmd.Context(), cfg, quietLogger(cmd))
	if err != nil {
		return nil, err
	}
	defer closeDB()
	in := cdm.Input{Source: source, Format: format, Data: bytes.NewReader(data),
		Bundle: cdm.BundleOptions{IdentifierSystem: idSystem, Pseudonymized: pseudonymized, Issuers: issuers}}
	if len(mapping) > 0 {
		if in.Mapping, err = cdm.ReadMapping(bytes.NewReader(mapping)); err != nil {
			return nil, err
		}
	}
	user := os.Getenv("USER")
	if user == "" {
		user = "cli"
	}
	return im.Import(cmd.Context(), user+" (cie clinical import)", in)
}

func clinicalViaAPI(cmd *cobra.Command, nodeURL, token, source string, data, mapping []byte, format string, pseudonymized bool, idSystem string, issuers []string) (*cdm.Report, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", source)
	if err != nil {
		return nil, err
	}
	fw.Write(data)
	if len(mapping) > 0 {
		mf, err := mw.CreateFormFile("mapping", "mapping")
		if err != nil {
			return nil, err
		}
		mf.Write(mapping)
	}
	for k, v := range map[string]string{"format": format, "identifier_system": idSystem, "issuers": strings.Join(issuers, ",")} {
		if v != "" {
			mw.WriteField(k, v)
		}
	}
	if pseudonymized {
		mw.WriteField("pseudonymized", "true")
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	u := strings.TrimSuffix(nodeURL, "/") + "/api/v1/clinical/import"
	req, err := http.NewRequestWithContext(cmd.Context(), "POST", u, &body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("sending to %s: %w", nodeURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the answer of %s: %w", nodeURL, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return nil, fmt.Errorf("%s: %s", resp.Status, e.Error)
		}
		return nil, fmt.Errorf("%s: %s", resp.Status, b)
	}
	var rep cdm.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("the answer of %s: %w", nodeURL, err)
	}
	return &rep, nil
}

func printClinicalReport(w io.Writer, rep *cdm.Report, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		unit := "lines"
		if rep.Format == cdm.FormatFHIR {
			unit = "entries"
		}
		fmt.Fprintf(w, "%s (%s): %d %s read, %d records imported, %d not imported\n", rep.Source, rep.Format, rep.Lines, unit, rep.Records, rep.ProblemCount)
		for _, t := range cdm.Tables {
			c, ok := rep.Changes[t]
			if !ok {
				continue
			}
			fmt.Fprintf(w, "  %-22s %6d inserted %6d updated %6d unchanged  (%d rows)\n", t, c.Inserted, c.Updated, c.Unchanged, rep.Totals[t])
		}
		for _, p := range rep.Problems {
			fmt.Fprintf(w, "  line %d: %s\n", p.Line, p.Reason)
		}
		if rep.ProblemCount > len(rep.Problems) {
			fmt.Fprintf(w, "  … and %d more\n", rep.ProblemCount-len(rep.Problems))
		}
	}
	if rep.ProblemCount > 0 {
		return fmt.Errorf("%d of %d lines or entries were not imported", rep.ProblemCount, rep.Lines)
	}
	return nil
}
