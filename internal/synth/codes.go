package synth

// Code is a coded concept: a value in a coding scheme with its meaning (PS3.3 8.8).
type Code struct {
	// Value is the code value, e.g. "108369006".
	Value string
	// Scheme is the coding scheme designator: "SCT" (SNOMED CT), "DCM" (DICOM) or
	// "EUCAIM" (the EUCAIM hyper-ontology).
	Scheme string
	// Meaning is the code meaning, e.g. "Neoplasm".
	Meaning string
}

// SOP class UIDs of the objects generated.
// Source: PS3.4 Annex B, as in innolitics dicom-standard sops.json
// (../shared/reference/dicom-standard/sops.json).
const (
	// CTImageStorage is the SOP class UID of CT Image Storage.
	CTImageStorage = "1.2.840.10008.5.1.4.1.1.2"
	// MRImageStorage is the SOP class UID of MR Image Storage.
	MRImageStorage = "1.2.840.10008.5.1.4.1.1.4"
	// PETImageStorage is the SOP class UID of Positron Emission Tomography Image Storage.
	PETImageStorage = "1.2.840.10008.5.1.4.1.1.128"
	// SegmentationStorage is the SOP class UID of Segmentation Storage.
	SegmentationStorage = "1.2.840.10008.5.1.4.1.1.66.4"
)

// Sex codes. Source: EUCAIM explorer vocabulary, key SNOMEDCT263495000 "Gender"
// (../shared/reference/eucaim/explorer-catalogue.json).
var (
	sexMale   = Code{"248153007", "SCT", "male"}
	sexFemale = Code{"248152002", "SCT", "female"}
)

// cancerKind names one of the cancer types the generator knows.
type cancerKind int

const (
	cancerLung cancerKind = iota
	cancerBreast
	cancerProstate
	cancerColon
	cancerPelvis
)

// cancerInfo is a cancer type of the clinical table with the body site it concerns.
type cancerInfo struct {
	kind      cancerKind
	diagnosis Code // diagnosis, SNOMED CT
	site      Code // body site, SNOMED CT
	weight    int  // relative frequency among patients
	ageMean   float64
	ageSD     float64
	female    float64 // probability that the patient is female
}

// cancers lists the cancer types. Diagnosis and body site codes: EUCAIM explorer
// vocabulary, keys SNOMEDCT439401001 "Diagnosis" and SNOMEDCT123037004 "Body Part"
// (../shared/reference/eucaim/explorer-catalogue.json); the display names are the
// explorer's. Weights and ages are rough European incidence figures, for plausibility
// only.
var cancers = []cancerInfo{
	{cancerLung, Code{"363358000", "SCT", "Lung Cancer"}, Code{"39607008", "SCT", "Lung"}, 30, 69, 9, 0.45},
	{cancerBreast, Code{"254837009", "SCT", "Breast Cancer"}, Code{"76752008", "SCT", "Breast"}, 25, 61, 12, 0.99},
	{cancerProstate, Code{"399068003", "SCT", "Prostate Cancer"}, Code{"41216001", "SCT", "Prostate"}, 20, 68, 8, 0},
	{cancerColon, Code{"363406005", "SCT", "Colon Cancer"}, Code{"71854001", "SCT", "Colon"}, 17, 70, 10, 0.47},
	{cancerPelvis, Code{"363484005", "SCT", "Pelvis Cancer"}, Code{"12921003", "SCT", "Pelvis"}, 8, 62, 12, 0.6},
}

// TNM categories with their codes. Source: EUCAIM explorer vocabulary, category
// "cancer_stage", keys EUCAIM_Hyper-Ontology_V1.0.CLIN1033379 (cT),
// CLIN1033358 (cN), CLIN1033341 (cM) (../shared/reference/eucaim/explorer-catalogue.json).
// The vocabulary has no code for cM0, which is therefore given without one.
var (
	stageT = []Code{
		{"EUCAIM_Hyper-Ontology_V1.0.COM1000333", "EUCAIM", "cT1"},
		{"EUCAIM_Hyper-Ontology_V1.0.COM1000351", "EUCAIM", "cT2"},
		{"EUCAIM_Hyper-Ontology_V1.0.COM1000433", "EUCAIM", "cT3"},
		{"EUCAIM_Hyper-Ontology_V1.0.COM1000505", "EUCAIM", "cT4"},
	}
	stageTProstate = []Code{
		{"EUCAIM_Hyper-Ontology_V1.0.COM1000370", "EUCAIM", "cT2a"},
		{"EUCAIM_Hyper-Ontology_V1.0.COM1000390", "EUCAIM", "cT2b"},
		{"EUCAIM_Hyper-Ontology_V1.0.COM1000411", "EUCAIM", "cT2c"},
		{"EUCAIM_Hyper-Ontology_V1.0.COM1000456", "EUCAIM", "cT3a"},
		{"EUCAIM_Hyper-Ontology_V1.0.COM1000480", "EUCAIM", "cT3b"},
	}
	stageN = []Code{
		{"EUCAIM_Hyper-Ontology_V1.0.COM1000285", "EUCAIM", "cN0"},
		{"EUCAIM_Hyper-Ontology_V1.0.COM1000300", "EUCAIM", "cN1"},
	}
	stageM0 = Code{"", "", "cM0"}
	stageM1 = Code{"EUCAIM_Hyper-Ontology_V1.0.COM1000246", "EUCAIM", "cM1"}
)

// Radiopharmaceutical and radionuclide of FDG PET.
// Source: DCMTK dcmsr/include/dcmtk/dcmsr/codes/sct.h (generated from PS3.16),
// CODE_SCT_Fluorodeoxyglucose_F18 and CODE_SCT_18_Fluorine; PS3.16 CID 4021 and CID 4020.
var (
	codeFDG = Code{"35321007", "SCT", "Fluorodeoxyglucose F^18^"}
	codeF18 = Code{"77004003", "SCT", "^18^Fluorine"}
)

// f18HalfLife is the half life of fluorine-18 in seconds: 109.77 min (NNDC ENSDF decay
// data for 18F), the value PET scanners record.
const f18HalfLife = 6586.2

// f18PositronFraction is the positron branching ratio of fluorine-18 as PET scanners
// commonly record it, rounded (about 97 %, NNDC ENSDF decay data for 18F).
const f18PositronFraction = 0.97

// Segmentation codes.
// Category: PS3.16 CID 7150 "Segmentation Property Category", SCT 49755003
// "Morphologically Abnormal Structure" (formerly "Morphologically Altered Structure").
// Type: PS3.16 CID 7159 "Lesion Segmentation Type", SCT 108369006 "Neoplasm".
// Both as listed in bvdh/dicom-terminology-in-fhir, input/fsh/ValueSet-dicom-cid-7150-*
// and ValueSet-dicom-cid-7159-*.
var (
	codeSegCategory = Code{"49755003", "SCT", "Morphologically Abnormal Structure"}
	codeSegType     = Code{"108369006", "SCT", "Neoplasm"}
)

// DICOM codes of derivation. Source: DCMTK dcmsr/include/dcmtk/dcmsr/codes/dcm.h
// (generated from PS3.16 2026b), CODE_DCM_Segmentation_113076 and
// CODE_DCM_SourceImageForImageProcessingOperation.
var (
	codeSegmentation = Code{"113076", "DCM", "Segmentation"}
	codeSourceImage  = Code{"121322", "DCM", "Source image for image processing operation"}
)

// codeBodyPhantom is the CTDI phantom of body protocols. Source: DCMTK
// dcmsr/include/dcmtk/dcmsr/codes/dcm.h (PS3.16 2026b), CODE_DCM_IEC320mmBodyCTDosimetryPhantom.
var codeBodyPhantom = Code{"113691", "DCM", "IEC 320mm Body CT Dosimetry Phantom"}

// Anatomic regions (Anatomic Region Sequence) with their Body Part Examined values.
// Source: PS3.16 CID 4031 "Common Anatomic Regions" and Annex L (Body Part Examined),
// as generated into DCMTK dcmsr/libcmr/cid4031.cc and cid4031e.cc (PS3.16 2025e).
var (
	regionChest     = Code{"816094009", "SCT", "Chest"}                     // CHEST
	regionAbdPelvis = Code{"818982008", "SCT", "Abdomen and Pelvis"}        // ABDOMENPELVIS
	regionCAP       = Code{"416775004", "SCT", "Chest, Abdomen and Pelvis"} // CHESTABDPELVIS
	regionBreast    = Code{"76752008", "SCT", "Breast"}                     // BREAST
	regionPelvis    = Code{"816092008", "SCT", "Pelvis"}                    // PELVIS
	regionProstate  = Code{"41216001", "SCT", "Prostate"}                   // PROSTATE
)

// contrast agents as hospitals write them in Contrast/Bolus Agent (brand names).
var (
	ctAgents = []string{"Omnipaque 350", "Visipaque 320", "Iomeron 400", "Ultravist 370"}
	mrAgents = []string{"Dotarem", "Gadovist", "ProHance", "Clariscan"}
)
