package synth

import "math"

// Tissue values per kind of series, indexed by tissue: CT in HU (without and with
// contrast), MR in arbitrary intensity units as a scanner would store them, ADC in
// 10⁻⁶ mm²/s, PET in SUV. Rough textbook values, for plausibility only.
var (
	//                         air    lung  fat   soft muscle bone liver kidney vessel heart fluid gland prost lesion
	ctPlain    = [nTissues]float64{-1000, -850, -100, 40, 50, 700, 60, 35, 40, 40, 8, 25, 40, 35}
	ctContrast = [nTissues]float64{-1000, -850, -100, 50, 60, 700, 110, 180, 180, 150, 8, 40, 70, 70}
	mrT2       = [nTissues]float64{0, 15, 650, 280, 200, 380, 180, 450, 60, 150, 1500, 450, 700, 650}
	mrT1       = [nTissues]float64{0, 10, 900, 380, 330, 600, 450, 350, 100, 300, 150, 350, 350, 360}
	mrT1Post   = [nTissues]float64{0, 10, 900, 480, 380, 620, 650, 800, 1100, 700, 160, 450, 600, 1000}
	mrDWI      = [nTissues]float64{0, 5, 20, 90, 70, 40, 80, 150, 10, 40, 50, 110, 120, 450}
	mrADC      = [nTissues]float64{0, 0, 150, 1500, 1400, 500, 1100, 2000, 2500, 2000, 3000, 1800, 1500, 750}
	petSUV     = [nTissues]float64{0, 0.4, 0.3, 0.9, 0.8, 1.1, 2.3, 3.5, 1.6, 3.0, 15, 0.8, 1.2, 0}
)

// labels returns the tissue of every pixel of a series' cross-section, row by row
// (the phantom is the same on every slice; only the lesion is three-dimensional).
func labels(se *Series) []tissue {
	gm := se.geom
	sec := sectionFor(se.anat, se.Study.Patient.body)
	out := make([]tissue, gm.rows*gm.cols)
	for i := range gm.rows {
		y := gm.y0 + float64(i)*gm.spacing
		for j := range gm.cols {
			out[i*gm.cols+j] = sec.tissueAt(gm.x0+float64(j)*gm.spacing, y)
		}
	}
	return out
}

// pixels returns the values of slice k of an image series, row by row, in the
// modality's units (HU for CT, stored intensity for MR, Bq/ml for PET); lab is the
// series' labels.
func (g *Generator) pixels(se *Series, k int, lab []tissue) []float64 {
	st := se.Study
	p := st.Patient
	gm := se.geom
	les := lesionOf(st)
	z := gm.z(k)
	table := g.tissueTable(se)
	lesionVal := table[tLesion]
	if p.cancer.kind == cancerProstate && se.kind == kindMRT2 {
		lesionVal = 300 // a prostate cancer is dark on T2
	}
	var sd float64
	mult := false
	switch se.kind {
	case kindCTSoft, kindCTAC:
		sd = 12
	case kindCTLung:
		sd = 35
	case kindPET:
		mult, sd = true, 0.18
		lesionVal = p.lesion.suv
	default:
		mult, sd = true, 0.05
	}
	scale := 1.0
	if se.kind == kindPET {
		scale = se.petSUV1()
	}
	seed := mix64(uint64(p.Index)<<40 ^ uint64(st.Index)<<32 ^ uint64(se.Index)<<24 ^ uint64(k))
	out := make([]float64, gm.rows*gm.cols)
	inLesionSlab := se.LesionVisible && math.Abs(z-les.cz) <= les.rz
	for i := range gm.rows {
		y := gm.y0 + float64(i)*gm.spacing
		for j := range gm.cols {
			x := gm.x0 + float64(j)*gm.spacing
			var v float64
			if inLesionSlab && les.in(x, y, z) {
				v = lesionVal
			} else {
				v = table[lab[i*gm.cols+j]]
			}
			n := noise(seed ^ uint64(i*gm.cols+j)*0x9E3779B97F4A7C15)
			if mult {
				v *= 1 + sd*n
			} else if v > -1000 {
				v += sd * n * 2.4
			}
			out[i*gm.cols+j] = v * scale
		}
	}
	return out
}

// tissueTable returns the values of a series' tissues.
func (g *Generator) tissueTable(se *Series) [nTissues]float64 {
	switch se.kind {
	case kindCTSoft, kindCTLung:
		if se.contrast != "" {
			return ctContrast
		}
		return ctPlain
	case kindCTAC:
		return ctPlain
	case kindPET:
		return petSUV
	case kindMRT2:
		return mrT2
	case kindMRDWI:
		return mrDWI
	case kindMRADC:
		return mrADC
	}
	if se.contrast != "" {
		t := mrT1Post
		// Enhancement of the lesion rises and washes out over the dynamic phases.
		t[tLesion] *= []float64{1, 0.85, 1, 0.92, 0.85}[min(se.temporal, 4)]
		return t
	}
	return mrT1
}
