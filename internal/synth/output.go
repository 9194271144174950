package synth

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"strconv"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
)

// clinicalHeader is the header row of the clinical CSV; the JSON field names are the same.
var clinicalHeader = []string{
	"patient_id", "sex", "sex_code", "age_at_diagnosis", "diagnosis_date", "year_of_diagnosis",
	"cancer_code", "cancer_display", "body_site_code", "body_site_display",
	"t", "t_code", "n", "n_code", "m", "m_code", "psa", "er", "pr", "her2",
	"vital_status", "last_follow_up",
}

// WriteClinicalCSV writes clinical rows as CSV (RFC 4180, UTF-8) with a header row.
func WriteClinicalCSV(w io.Writer, rows iter.Seq[Clinical]) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(clinicalHeader); err != nil {
		return fmt.Errorf("synth: clinical csv: %w", err)
	}
	for c := range rows {
		psa := ""
		if c.PSA != 0 {
			psa = strconv.FormatFloat(c.PSA, 'f', -1, 64)
		}
		rec := []string{
			c.PatientID, c.Sex, c.SexCode, strconv.Itoa(c.AgeAtDiagnosis), c.DiagnosisDate, strconv.Itoa(c.YearOfDiagnosis),
			c.CancerCode, c.CancerDisplay, c.BodySiteCode, c.BodySiteDisplay,
			c.T, c.TCode, c.N, c.NCode, c.M, c.MCode, psa, c.ER, c.PR, c.HER2,
			c.VitalStatus, c.LastFollowUp,
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("synth: clinical csv, patient %s: %w", c.PatientID, err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("synth: clinical csv: %w", err)
	}
	return nil
}

// WriteClinicalJSON writes clinical rows as a JSON array of objects.
func WriteClinicalJSON(w io.Writer, rows iter.Seq[Clinical]) error {
	var all []Clinical
	for c := range rows {
		all = append(all, c)
	}
	if all == nil {
		all = []Clinical{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(all); err != nil {
		return fmt.Errorf("synth: clinical json: %w", err)
	}
	return nil
}

// Counts are the numbers of distinct patients, studies, series and instances, and
// of instances by modality.
type Counts struct {
	// Patients, Studies, Series and Instances are the numbers of distinct patients
	// (by Patient ID), studies and series (by UID) and of instances.
	Patients, Studies, Series, Instances int
	// ByModality counts instances per Modality (CT, MR, PT, SEG).
	ByModality map[string]int
}

// Summary counts what the generator's plan holds, without building any instance.
func (g *Generator) Summary() Counts {
	c := Counts{ByModality: map[string]int{}}
	for p := range g.Patients() {
		c.Patients++
		for _, st := range p.Studies {
			c.Studies++
			for _, se := range st.Series {
				c.Series++
				c.Instances += se.Instances
				c.ByModality[se.Modality] += se.Instances
			}
		}
	}
	return c
}

// Counter counts the distinct patients (by Patient ID), studies and series (by UID) and
// the instances of data sets, e.g. those a node received, to compare with Summary. Its
// zero value is ready to use; it is not safe for concurrent use.
type Counter struct {
	patients, studies, series map[string]bool
	instances                 int
	byModality                map[string]int
}

// Add counts one instance.
func (c *Counter) Add(ds *dicom.Dataset) {
	if c.patients == nil {
		c.patients, c.studies, c.series, c.byModality = map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]int{}
	}
	c.patients[ds.Text(tags.PatientID)] = true
	c.studies[ds.Text(tags.StudyInstanceUID)] = true
	c.series[ds.Text(tags.SeriesInstanceUID)] = true
	c.byModality[ds.Text(tags.Modality)]++
	c.instances++
}

// Counts returns what was counted.
func (c *Counter) Counts() Counts {
	out := Counts{Patients: len(c.patients), Studies: len(c.studies), Series: len(c.series), Instances: c.instances, ByModality: map[string]int{}}
	for k, v := range c.byModality {
		out.ByModality[k] = v
	}
	return out
}

// WriteDir writes every instance under dir as
// dir/<patient id>/<study uid>/<series number>_<modality>/<instance number>.dcm, the
// clinical table as dir/clinical.csv, and returns the counts of what it wrote.
func (g *Generator) WriteDir(dir string) (Counts, error) {
	var c Counter
	f, err := os.Create(filepath.Join(dir, "clinical.csv"))
	if err != nil {
		return Counts{}, fmt.Errorf("synth: write dir: %w", err)
	}
	if err := WriteClinicalCSV(f, g.Clinical()); err != nil {
		f.Close()
		return Counts{}, err
	}
	if err := f.Close(); err != nil {
		return Counts{}, fmt.Errorf("synth: write dir: %w", err)
	}
	err = g.Walk(func(in *Instance) error {
		se := in.Series
		path := filepath.Join(dir, se.Study.Patient.ID, se.Study.UID,
			fmt.Sprintf("%03d_%s", se.Number, se.Modality), fmt.Sprintf("%04d.dcm", in.Number))
		if err := WriteFile(path, in.File); err != nil {
			return err
		}
		c.Add(in.File.Dataset)
		return nil
	})
	return c.Counts(), err
}

// WriteFile writes a file to path, creating its folder.
func WriteFile(path string, f *dicom.File) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("synth: write %s: %w", path, err)
	}
	out, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("synth: write %s: %w", path, err)
	}
	if _, err := f.WriteTo(out); err != nil {
		out.Close()
		return fmt.Errorf("synth: write %s: %w", path, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("synth: write %s: %w", path, err)
	}
	return nil
}
