package synth

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Patient is one generated patient with their clinical row and studies (the plan:
// metadata only; instances are built by Generator.Instances).
type Patient struct {
	// Index is the patient's number in the generator, from 0.
	Index int
	// ID is the hospital's patient identifier (Patient ID).
	ID string
	// NationalID is a national identity number planted in Other Patient IDs
	// Sequence, "" when the node's country has none.
	NationalID string
	// NationalIDIssuer names the issuer of NationalID, e.g. "NO-FNR".
	NationalIDIssuer string
	// Name is the patient's name as a DICOM person name, "Family^Given".
	Name string
	// Sex is "M" or "F".
	Sex string
	// BirthDate is the date of birth.
	BirthDate time.Time
	// Address and Phone are planted identifying values; either may be "".
	Address, Phone string
	// WeightKg and HeightM are the patient's weight and height.
	WeightKg, HeightM float64
	// Clinical is the patient's row of the clinical table.
	Clinical Clinical
	// Studies are the patient's imaging studies in date order.
	Studies []*Study

	cancer   cancerInfo
	anat     anatomy // where the lesion is
	body     float64 // body size factor
	lesion   lesionSpec
	hospital int
}

// Study is one imaging study of a patient.
type Study struct {
	// Patient is the study's patient.
	Patient *Patient
	// Index is the study's place among the patient's studies, from 0.
	Index int
	// UID is the Study Instance UID.
	UID string
	// ID is the Study ID, AccessionNumber the accession number.
	ID, AccessionNumber string
	// Description is the Study Description, in the node's language.
	Description string
	// Time is the study's date and time.
	Time time.Time
	// ReferringPhysician is the Referring Physician's Name.
	ReferringPhysician string
	// Institution, Department and InstitutionAddress name where the study was made.
	Institution, Department, InstitutionAddress string
	// FrameOfReferenceUID is shared by every series of the study.
	FrameOfReferenceUID string
	// Series are the study's series in order; segmentations come last.
	Series []*Series

	proc        procedure
	aePrefix    string
	zShift      float64 // table position of this study's frame of reference
	lesionScale float64 // lesion size at this study
	operator    string
	performing  string
}

// Series is one series of a study.
type Series struct {
	// Study is the series' study.
	Study *Study
	// Index is the series' place in the study, from 0.
	Index int
	// UID is the Series Instance UID.
	UID string
	// Number is the Series Number.
	Number int
	// Modality is CT, MR, PT or SEG.
	Modality string
	// Description is the Series Description.
	Description string
	// BodyPart is the Body Part Examined.
	BodyPart string
	// Protocol is the Protocol Name.
	Protocol string
	// Instances is the number of instances (1 for a segmentation).
	Instances int
	// Source is, for a segmentation, the series it segments; nil otherwise.
	Source *Series
	// LesionVisible reports whether the series shows the patient's lesion.
	LesionVisible bool
	// Time is the series' start.
	Time time.Time

	kind      seriesKind
	sc        scanner
	station   string
	serial    string
	geom      geometry
	kernel    string
	contrast  string
	temporal  int // 1-based temporal position of a dynamic series, 0 if none
	temporals int
	region    Code
	anat      anatomy
}

// Clinical is a patient's row of the clinical table.
type Clinical struct {
	// PatientID is the patient's ID, as in the DICOM files.
	PatientID string `json:"patient_id"`
	// Sex is "male" or "female"; SexCode its SNOMED CT code.
	Sex     string `json:"sex"`
	SexCode string `json:"sex_code"`
	// AgeAtDiagnosis is in whole years.
	AgeAtDiagnosis int `json:"age_at_diagnosis"`
	// DiagnosisDate is YYYY-MM-DD; YearOfDiagnosis its year.
	DiagnosisDate   string `json:"diagnosis_date"`
	YearOfDiagnosis int    `json:"year_of_diagnosis"`
	// CancerCode is the diagnosis' SNOMED CT code, CancerDisplay its name.
	CancerCode    string `json:"cancer_code"`
	CancerDisplay string `json:"cancer_display"`
	// BodySiteCode and BodySiteDisplay name the primary site (SNOMED CT).
	BodySiteCode    string `json:"body_site_code"`
	BodySiteDisplay string `json:"body_site_display"`
	// T, N and M are the clinical TNM categories (cT2, cN0, cM0), with their EUCAIM
	// hyper-ontology codes ("" for cM0, which the vocabulary does not code).
	T     string `json:"t"`
	TCode string `json:"t_code"`
	N     string `json:"n"`
	NCode string `json:"n_code"`
	M     string `json:"m"`
	MCode string `json:"m_code"`
	// PSA is the prostate specific antigen at diagnosis in ng/mL (prostate only).
	PSA float64 `json:"psa,omitempty"`
	// ER, PR (positive/negative) and HER2 (0, 1+, 2+, 3+) are receptor status (breast only).
	ER   string `json:"er,omitempty"`
	PR   string `json:"pr,omitempty"`
	HER2 string `json:"her2,omitempty"`
	// VitalStatus is "alive" or "deceased" at LastFollowUp (YYYY-MM-DD).
	VitalStatus  string `json:"vital_status"`
	LastFollowUp string `json:"last_follow_up"`
}

// anatomy is the phantom's cross-section.
type anatomy int

const (
	anatChest anatomy = iota
	anatAbdomen
	anatPelvis
	anatBreast
)

// procedure is a kind of imaging study.
type procedure int

const (
	procCTChest procedure = iota
	procCTAbdPelvis
	procCTCAP
	procPETCT
	procMRProstate
	procMRBreast
	procMRPelvis
)

// seriesKind is a kind of series.
type seriesKind int

const (
	kindCTSoft seriesKind = iota
	kindCTLung
	kindCTAC
	kindPET
	kindMRT2
	kindMRDWI
	kindMRADC
	kindMRT1Dyn
	kindSEG
)

// geometry places a series' images in the patient: axial slices, square pixels, the
// first slice the most superior.
type geometry struct {
	rows, cols int
	spacing    float64 // pixel spacing, mm
	thickness  float64 // slice thickness and spacing, mm
	x0, y0     float64 // centre of the first pixel, mm
	zTop       float64 // z of the first slice, mm
	slices     int
}

// z returns the z of slice k (0-based).
func (g geometry) z(k int) float64 { return g.zTop - float64(k)*g.thickness }

// lesionSpec is the patient's lesion in the anatomy's coordinates (mm, before the
// body size factor and the study's table shift).
type lesionSpec struct {
	x, y, z    float64
	rx, ry, rz float64
	suv        float64
}

// descriptions of procedures: [procedure][country] = description; "%s" takes the
// contrast phrase for CT.
var procNames = map[procedure]map[string][2]string{
	procCTChest:     {"Norway": {"CT thorax", "KM"}, "Spain": {"TC TÓRAX", "TORAX"}, "Sweden": {"DT thorax", "THORAX"}, "": {"CT Chest", "CHEST"}},
	procCTAbdPelvis: {"Norway": {"CT abdomen/bekken", "ABD"}, "Spain": {"TC ABDOMEN Y PELVIS", "ABD"}, "Sweden": {"DT buk och bäcken", "BUK"}, "": {"CT Abdomen Pelvis", "ABD"}},
	procCTCAP:       {"Norway": {"CT thorax/abdomen/bekken", "TAB"}, "Spain": {"TC TÓRAX-ABDOMEN-PELVIS", "TAP"}, "Sweden": {"DT thorax-buk-bäcken", "TBB"}, "": {"CT Chest Abdomen Pelvis", "CAP"}},
	procPETCT:       {"Norway": {"PET/CT FDG helkropp", ""}, "Spain": {"PET-TC 18F-FDG CUERPO ENTERO", ""}, "Sweden": {"PET/DT FDG helkropp", ""}, "": {"PET/CT FDG Whole Body", ""}},
	procMRProstate:  {"Norway": {"MR prostata", ""}, "Spain": {"RM PRÓSTATA MULTIPARAMÉTRICA", ""}, "Sweden": {"MR prostata", ""}, "": {"MRI Prostate mpMRI", ""}},
	procMRBreast:    {"Norway": {"MR mammae bilateral", ""}, "Spain": {"RM MAMA BILATERAL", ""}, "Sweden": {"MR bröst bilateralt", ""}, "": {"MRI Breast Bilateral", ""}},
	procMRPelvis:    {"Norway": {"MR bekken", ""}, "Spain": {"RM PELVIS", ""}, "Sweden": {"MR lilla bäckenet", ""}, "": {"MRI Pelvis", ""}},
}

// contrastPhrase: [country] = {with, without}.
var contrastPhrase = map[string][2]string{
	"Norway": {"med kontrast", "uten kontrast"},
	"Spain":  {"CON CONTRASTE", "SIN CONTRASTE"},
	"Sweden": {"med kontrast", "utan kontrast"},
	"":       {"with contrast", "without contrast"},
}

func (g *Generator) studyDescription(p procedure, contrast bool) string {
	n := procNames[p][g.country.name][0]
	if p == procCTChest || p == procCTAbdPelvis || p == procCTCAP {
		c := contrastPhrase[g.country.name]
		if contrast {
			return n + " " + c[0]
		}
		return n + " " + c[1]
	}
	return n
}

// personName returns a DICOM person name of the country.
func (g *Generator) personName(r *rnd, female bool, prefix string) string {
	c := g.country
	given := c.maleGiven
	if female {
		given = c.femaleGiv
	}
	fam := r.pick(c.family)
	if c.twoFamily {
		fam += " " + r.pick(c.family)
	}
	name := fam + "^" + r.pick(given)
	if prefix != "" {
		name += "^^" + prefix
	}
	return name
}

// patient plans patient i.
func (g *Generator) patient(i int) *Patient {
	r := g.k.rng(fmt.Sprintf("p/%d", i))
	c := g.country
	p := &Patient{Index: i}

	total := 0
	for _, ci := range cancers {
		total += ci.weight
	}
	n := r.IntN(total)
	for _, ci := range cancers {
		if n < ci.weight {
			p.cancer = ci
			break
		}
		n -= ci.weight
	}
	female := r.chance(p.cancer.female)
	p.Sex = "M"
	if female {
		p.Sex = "F"
	}
	age := int(r.normal(p.cancer.ageMean, p.cancer.ageSD, 28, 93))
	diag := time.Date(2016, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, r.IntN(9*365))
	p.BirthDate = diag.AddDate(-age-1, 0, r.between(1, 364))
	if p.BirthDate.AddDate(age, 0, 0).After(diag) {
		p.BirthDate = diag.AddDate(-age, 0, -1)
	}
	p.Name = g.personName(r, female, "")
	p.hospital = 0
	switch {
	case c.mrnPrefix != "":
		p.ID = c.mrnPrefix + r.digits("#######")
	default:
		p.ID = r.digits("#######")
	}
	p.ID = p.ID[:len(p.ID)-3] + fmt.Sprintf("%03d", i%1000) // unique within a node up to 1000 patients
	if i >= 1000 {
		p.ID = fmt.Sprintf("%s%d", p.ID, i/1000)
	}
	switch c.nationalID {
	case "NO-FNR": // fødselsnummer shape: DDMMYY + 5 digits (not a valid checksum)
		p.NationalID = p.BirthDate.Format("020106") + r.digits("#####")
	case "SE-PNR": // personnummer shape: YYYYMMDD-NNNN (not a valid checksum)
		p.NationalID = p.BirthDate.Format("20060102") + "-" + r.digits("####")
	case "ES-SIP": // SIP card number shape
		p.NationalID = r.digits("########")
	}
	p.NationalIDIssuer = c.nationalID
	if r.chance(0.45) {
		p.Address = fmt.Sprintf("%s %d, %s", r.pick(c.streets), r.between(1, 140), r.pick(c.postcodes))
	}
	if r.chance(0.35) {
		p.Phone = r.digits(c.phone)
	}
	if female {
		p.WeightKg = math.Round(r.normal(68, 12, 42, 130))
		p.HeightM = math.Round(r.normal(1.65, 0.07, 1.45, 1.85)*100) / 100
	} else {
		p.WeightKg = math.Round(r.normal(82, 13, 50, 150))
		p.HeightM = math.Round(r.normal(1.78, 0.07, 1.55, 2.00)*100) / 100
	}
	p.body = math.Sqrt(p.WeightKg/75)*0.5 + 0.5

	p.Clinical = g.clinical(r, p, age, diag)
	p.lesion, p.anat = lesionFor(r, p.cancer.kind)
	g.planStudies(r, p, diag)
	// Follow-up does not end before the last study.
	if last := p.Studies[len(p.Studies)-1].Time.Format(time.DateOnly); last > p.Clinical.LastFollowUp {
		p.Clinical.LastFollowUp = last
	}
	return p
}

// clinical draws the clinical row.
func (g *Generator) clinical(r *rnd, p *Patient, age int, diag time.Time) Clinical {
	cl := Clinical{
		PatientID: p.ID, AgeAtDiagnosis: age,
		DiagnosisDate: diag.Format(time.DateOnly), YearOfDiagnosis: diag.Year(),
		CancerCode: p.cancer.diagnosis.Value, CancerDisplay: p.cancer.diagnosis.Meaning,
		BodySiteCode: p.cancer.site.Value, BodySiteDisplay: p.cancer.site.Meaning,
	}
	if p.Sex == "F" {
		cl.Sex, cl.SexCode = sexFemale.Meaning, sexFemale.Value
	} else {
		cl.Sex, cl.SexCode = sexMale.Meaning, sexMale.Value
	}
	ts := stageT
	if p.cancer.kind == cancerProstate {
		ts = stageTProstate
	}
	t := ts[r.IntN(len(ts))]
	nn := stageN[0]
	if r.chance(0.35) {
		nn = stageN[1]
	}
	m := stageM0
	if r.chance(0.18) {
		m = stageM1
	}
	cl.T, cl.TCode, cl.N, cl.NCode, cl.M, cl.MCode = t.Meaning, t.Value, nn.Meaning, nn.Value, m.Meaning, m.Value
	switch p.cancer.kind {
	case cancerProstate:
		cl.PSA = math.Round(math.Exp(r.normal(2.2, 0.8, 0, 6))*10) / 10
	case cancerBreast:
		pos := func(pr float64) string {
			if r.chance(pr) {
				return "positive"
			}
			return "negative"
		}
		cl.ER, cl.PR = pos(0.75), pos(0.65)
		cl.HER2 = []string{"0", "1+", "2+", "3+"}[r.IntN(4)]
	}
	// Survival: worse with metastases; follow-up until at most the end of 2025.
	months := int(r.normal(48, 24, 3, 110))
	if m == stageM1 {
		months = int(r.normal(16, 10, 2, 60))
	}
	last := diag.AddDate(0, months, 0)
	end := time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)
	cl.VitalStatus = "deceased"
	if last.After(end) || r.chance(0.55) && m != stageM1 {
		cl.VitalStatus = "alive"
		if last.After(end) {
			last = end
		}
	}
	cl.LastFollowUp = last.Format(time.DateOnly)
	return cl
}

// lesionFor places the lesion of a cancer type in its anatomy (mm, patient axes:
// +x the patient's left, +y posterior, +z superior).
func lesionFor(r *rnd, k cancerKind) (lesionSpec, anatomy) {
	var l lesionSpec
	var a anatomy
	rad := r.uniform(7, 22)
	switch k {
	case cancerLung:
		a = anatChest
		side := []float64{-1, 1}[r.IntN(2)]
		l.x, l.y = side*r.uniform(55, 90), r.uniform(-30, 30)
		l.suv = r.uniform(6, 18)
	case cancerBreast:
		a = anatBreast
		side := []float64{-1, 1}[r.IntN(2)]
		l.x, l.y = side*r.uniform(65, 95), r.uniform(-70, -40)
		rad = r.uniform(6, 16)
		l.suv = r.uniform(3, 10)
	case cancerProstate:
		a = anatPelvis
		l.x, l.y = r.uniform(-8, 8), r.uniform(8, 16)
		rad = r.uniform(4, 9)
		l.suv = r.uniform(2, 6)
	case cancerColon:
		a = anatAbdomen
		l.x, l.y = r.uniform(-95, -45), r.uniform(-35, 20) // a liver metastasis
		rad = r.uniform(8, 20)
		l.suv = r.uniform(5, 14)
	default:
		a = anatPelvis
		l.x, l.y = r.uniform(-25, 25), r.uniform(-20, 10)
		l.suv = r.uniform(5, 15)
	}
	l.z = r.uniform(-10, 10)
	l.rx, l.ry, l.rz = rad*r.uniform(0.8, 1.2), rad*r.uniform(0.8, 1.2), rad*r.uniform(0.8, 1.2)
	return l, a
}

// studyPlan is a study before its UIDs and series are made.
type studyPlan struct {
	proc     procedure
	day      int // days from diagnosis
	contrast bool
}

// planStudies draws the patient's studies and their series.
func (g *Generator) planStudies(r *rnd, p *Patient, diag time.Time) {
	var plans []studyPlan
	add := func(proc procedure, day int, contrast bool) {
		plans = append(plans, studyPlan{proc, day, contrast})
	}
	followUps := func(proc procedure, max int, contrast bool) {
		day := 0
		for range r.between(0, max) {
			day += r.between(80, 200)
			add(proc, day, contrast)
		}
	}
	switch p.cancer.kind {
	case cancerLung:
		add(procCTChest, -r.between(7, 30), r.chance(0.6))
		if r.chance(0.6) {
			add(procPETCT, -r.between(0, 6), false)
		}
		followUps(procCTChest, 2, true)
	case cancerBreast:
		add(procMRBreast, -r.between(5, 25), true)
		if r.chance(0.4) {
			add(procCTCAP, -r.between(0, 4), true)
		}
		if r.chance(0.15) {
			add(procPETCT, r.between(1, 10), false)
		}
		followUps(procMRBreast, 1, true)
	case cancerProstate:
		add(procMRProstate, -r.between(10, 40), r.chance(0.3))
		if r.chance(0.3) {
			add(procCTAbdPelvis, -r.between(0, 9), true)
		}
		followUps(procMRProstate, 1, false)
	case cancerColon:
		add(procCTCAP, -r.between(3, 20), true)
		if r.chance(0.25) {
			add(procPETCT, r.between(0, 14), false)
		}
		followUps(procCTCAP, 2, true)
	default:
		add(procMRPelvis, -r.between(5, 30), true)
		if r.chance(0.6) {
			add(procCTAbdPelvis, -r.between(0, 4), true)
		}
		followUps(procMRPelvis, 1, true)
	}
	slices.SortStableFunc(plans, func(a, b studyPlan) int { return a.day - b.day })
	for i, sp := range plans {
		p.Studies = append(p.Studies, g.study(r, p, i, sp, diag))
	}
}

// study makes one study with its series.
func (g *Generator) study(r *rnd, p *Patient, i int, sp studyPlan, diag time.Time) *Study {
	path := fmt.Sprintf("p/%d/s/%d", p.Index, i)
	h := g.country.hospitals[0]
	if sp.proc == procPETCT {
		h = g.country.hospitals[1%len(g.country.hospitals)]
	}
	day := diag.AddDate(0, 0, sp.day)
	minute := r.between(7*60+30, 17*60+30)
	st := &Study{
		Patient: p, Index: i, UID: g.k.uid(path),
		ID:                  r.digits("#####"),
		AccessionNumber:     h.aePrefix + day.Format("06") + r.digits("######"),
		Description:         g.studyDescription(sp.proc, sp.contrast),
		Time:                day.Add(time.Duration(minute)*time.Minute + time.Duration(r.IntN(60))*time.Second),
		ReferringPhysician:  g.personName(r, r.chance(0.5), "Dr."),
		Institution:         h.name,
		Department:          h.department,
		InstitutionAddress:  h.address,
		FrameOfReferenceUID: g.k.uid(path + "/for"),
		proc:                sp.proc,
		aePrefix:            h.aePrefix,
		zShift:              r.uniform(-400, -100),
		lesionScale:         1,
		operator:            g.personName(r, r.chance(0.6), ""),
		performing:          g.personName(r, r.chance(0.5), "Dr."),
	}
	if i > 0 {
		st.lesionScale = r.uniform(0.6, 1.25)
	}
	g.planSeries(r, st, sp.contrast)
	return st
}

// modality parameters by procedure.
func (g *Generator) planSeries(r *rnd, st *Study, contrast bool) {
	p := st.Patient
	type spec struct {
		kind     seriesKind
		desc     string
		temporal int
	}
	var specs []spec
	var anat anatomy
	var bodyPart string
	var region Code
	var fov float64
	var protocol string
	var sc scanner
	hosp := p.hospital
	pickScanner := func(list []scanner, salt int) scanner {
		return list[(hosp*7+g.nodeSalt+salt)%len(list)]
	}
	regionWord := ""
	switch st.proc {
	case procCTChest:
		anat, bodyPart, region, fov, regionWord = anatChest, "CHEST", regionChest, math.Round(r.uniform(340, 400)), "Thorax"
		specs = []spec{{kind: kindCTSoft}, {kind: kindCTLung}}
	case procCTAbdPelvis:
		anat, bodyPart, region, fov, regionWord = anatAbdomen, "ABDOMENPELVIS", regionAbdPelvis, math.Round(r.uniform(360, 420)), "Abdomen"
		specs = []spec{{kind: kindCTSoft}}
	case procCTCAP:
		anat, bodyPart, region, fov, regionWord = anatAbdomen, "CHESTABDPELVIS", regionCAP, math.Round(r.uniform(380, 440)), "Thx-Abd"
		specs = []spec{{kind: kindCTSoft}, {kind: kindCTLung}}
	case procPETCT:
		anat, bodyPart, region, fov, regionWord = p.anat, "WHOLEBODY", Code{"38266002", "SCT", "Entire body"}, 600, "WB"
		// Entire body: PS3.16 CID 4031, DCMTK dcmsr/libcmr/cid4031.cc (PS3.16 2025e).
		specs = []spec{{kind: kindCTAC}, {kind: kindPET}}
	case procMRProstate:
		anat, bodyPart, region, fov = anatPelvis, "PROSTATE", regionProstate, math.Round(r.uniform(180, 220))
		specs = []spec{{kind: kindMRT2, desc: "t2_tse_tra"}, {kind: kindMRDWI, desc: "ep2d_diff_b50_800_1400_tra"}, {kind: kindMRADC, desc: "ep2d_diff_b50_800_1400_tra_ADC"}}
		if contrast {
			specs = append(specs, spec{kind: kindMRT1Dyn, desc: "t1_vibe_tra_dyn", temporal: 1})
		}
	case procMRBreast:
		anat, bodyPart, region, fov = anatBreast, "BREAST", regionBreast, math.Round(r.uniform(320, 360))
		specs = []spec{{kind: kindMRT2, desc: "t2_tse_tra"}, {kind: kindMRT1Dyn, desc: "t1_fl3d_tra_dyn_pre", temporal: 1}}
		for k := range r.between(1, 3) {
			specs = append(specs, spec{kind: kindMRT1Dyn, desc: fmt.Sprintf("t1_fl3d_tra_dyn_post%d", k+1), temporal: k + 2})
		}
	default: // procMRPelvis
		anat, bodyPart, region, fov = anatPelvis, "PELVIS", regionPelvis, math.Round(r.uniform(240, 280))
		specs = []spec{{kind: kindMRT2, desc: "t2_tse_tra"}, {kind: kindMRDWI, desc: "ep2d_diff_b50_1000_tra"}, {kind: kindMRADC, desc: "ep2d_diff_b50_1000_tra_ADC"}}
		if contrast {
			specs = append(specs, spec{kind: kindMRT1Dyn, desc: "t1_vibe_fs_tra_post", temporal: 1})
		}
	}
	switch st.proc {
	case procCTChest, procCTAbdPelvis, procCTCAP:
		sc = pickScanner(ctScanners, int(st.proc))
		protocol = map[procedure]string{procCTChest: "Thorax", procCTAbdPelvis: "AbdomenPelvis", procCTCAP: "ThoraxAbdomenPelvis"}[st.proc] + map[bool]string{true: "_contrast", false: ""}[contrast]
	case procPETCT:
		sc = pickScanner(petScanners, 0)
		protocol = "PET_CT_FDG_WB"
	default:
		sc = pickScanner(mrScanners, int(st.proc))
		protocol = map[procedure]string{procMRProstate: "Prostate_mpMRI", procMRBreast: "Breast_DCE", procMRPelvis: "Pelvis_Rectum"}[st.proc]
	}
	if g.opt.MaxSeriesPerStudy > 0 && len(specs) > g.opt.MaxSeriesPerStudy {
		specs = specs[:g.opt.MaxSeriesPerStudy]
	}
	temporals := 0
	for _, s := range specs {
		temporals = max(temporals, s.temporal)
	}
	station := fmt.Sprintf("%s%s%02d", st.aePrefix, map[string]string{"CT": "CT", "MR": "MR", "PT": "PET"}[sc.modality], 1+(g.nodeSalt+int(st.proc))%3)
	serial := fmt.Sprintf("%d", 10000+(g.nodeSalt*7919+int(st.proc)*104729)%90000)
	agent := ""
	if contrast {
		if st.proc == procMRBreast || st.proc == procMRPelvis || st.proc == procMRProstate {
			agent = r.pick(mrAgents)
		} else {
			agent = r.pick(ctAgents)
		}
	}

	// One table position per study: series share the z range, as a scanner does.
	nSlices := r.between(g.opt.MinSlices, g.opt.MaxSlices)
	t := st.Time.Add(time.Duration(r.between(60, 300)) * time.Second)
	for i, s := range specs {
		se := &Series{
			Study: st, Index: i, UID: g.k.uid(fmt.Sprintf("p/%d/s/%d/r/%d", p.Index, st.Index, i)),
			BodyPart: bodyPart, Protocol: protocol, kind: s.kind, sc: sc, station: station, serial: serial,
			region: region, temporal: s.temporal, temporals: temporals, Time: t,
		}
		thick := 3.0
		slices := nSlices
		sfov := fov
		switch s.kind {
		case kindCTSoft:
			se.Modality, thick, se.kernel = "CT", []float64{1, 2, 3, 5}[r.IntN(4)], sc.kernels[0]
			se.Description = fmt.Sprintf("%s %.1f %s", regionWord, thick, se.kernel)
			se.contrast = agent
		case kindCTLung:
			se.Modality, thick, se.kernel = "CT", 1, sc.kernels[1]
			se.Description = fmt.Sprintf("%s %.1f %s lung", regionWord, thick, se.kernel)
			se.contrast = agent
		case kindCTAC:
			se.Modality, thick, se.kernel, sfov = "CT", 3, sc.kernels[0], 500
			se.Description = "CT AC WB 3.0 " + se.kernel
		case kindPET:
			se.Modality, thick = "PT", 3
			se.Description = "PET WB AC 3D"
		default:
			se.Modality = "MR"
			se.Description = s.desc
			thick = map[seriesKind]float64{kindMRT2: 3, kindMRDWI: 3.5, kindMRADC: 3.5, kindMRT1Dyn: 2}[s.kind]
			if s.kind == kindMRT1Dyn && s.temporal > 1 || s.kind == kindMRT1Dyn && st.proc != procMRBreast {
				se.contrast = agent
			}
			if s.kind == kindMRDWI || s.kind == kindMRADC {
				sfov *= 1.2
			}
		}
		se.Number = 1 + i
		if s.kind == kindPET {
			se.Number = 100 + i
		}
		se.geom = g.geometry(st, se, sfov, thick, slices)
		se.Instances = slices
		se.LesionVisible = anat == p.anat
		se.anat = anat
		st.Series = append(st.Series, se)
		t = t.Add(time.Duration(r.between(90, 420)) * time.Second)
	}
	// A segmentation of the lesion in the first series that shows it, if there is room.
	if g.opt.SEGFraction > 0 && r.chance(g.opt.SEGFraction) &&
		(g.opt.MaxSeriesPerStudy == 0 || len(st.Series) < g.opt.MaxSeriesPerStudy) {
		for _, src := range st.Series {
			if !src.LesionVisible || !(src.kind == kindCTSoft || src.kind == kindMRT2 || src.kind == kindMRT1Dyn && src.temporal > 1) {
				continue
			}
			if len(g.lesionFrames(src)) == 0 {
				break
			}
			i := len(st.Series)
			seg := &Series{
				Study: st, Index: i, UID: g.k.uid(fmt.Sprintf("p/%d/s/%d/r/%d", p.Index, st.Index, i)),
				Number: 300 + src.Number, Modality: "SEG", Description: "Lesion segmentation " + src.Description,
				BodyPart: bodyPart, Protocol: protocol, Instances: 1, Source: src, LesionVisible: true,
				Time: t.Add(time.Duration(r.between(1, 30)) * 24 * time.Hour), kind: kindSEG,
				region: region, anat: anat, geom: src.geom,
			}
			st.Series = append(st.Series, seg)
			break
		}
	}
}

// geometry lays out a series: the lesion near the middle of the z range.
func (g *Generator) geometry(st *Study, se *Series, fov, thick float64, slices int) geometry {
	p := st.Patient
	sp := fov / float64(g.opt.Columns)
	gm := geometry{rows: g.opt.Rows, cols: g.opt.Columns, spacing: sp, thickness: thick, slices: slices}
	gm.x0 = -fov/2 + sp/2
	gm.y0 = -float64(g.opt.Rows)*sp/2 + sp/2
	// Deterministic offset of the lesion from the middle, within a quarter of the range.
	span := float64(slices-1) * thick
	off := (float64(mix64(uint64(p.Index)<<20|uint64(st.Index)<<8)%1000)/1000 - 0.5) * span * 0.5
	mid := p.lesion.z*p.body + st.zShift + off
	gm.zTop = math.Round((mid+span/2)*100) / 100
	return gm
}
