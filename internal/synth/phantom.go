package synth

import "math"

// tissue classes of the phantom.
type tissue uint8

const (
	tAir tissue = iota
	tLung
	tFat
	tSoft
	tMuscle
	tBone
	tLiver
	tKidney
	tVessel
	tHeart
	tFluid
	tGland // breast glandular tissue
	tProstate
	tLesion
	nTissues
)

// ellipse is an axis-aligned ellipse in the axial plane (mm).
type ellipse struct{ cx, cy, a, b float64 }

func (e ellipse) in(x, y float64) bool {
	dx, dy := (x-e.cx)/e.a, (y-e.cy)/e.b
	return dx*dx+dy*dy <= 1
}

// section is one anatomy's cross-section: a body outline and organs, tested in order
// (the first organ containing a point wins).
type section struct {
	body   ellipse
	fat    float64 // thickness of subcutaneous fat, mm
	organs []organ
}

type organ struct {
	e ellipse
	t tissue
}

// sectionFor returns the cross-section of an anatomy for a body size factor s.
func sectionFor(a anatomy, s float64) section {
	sc := func(cx, cy, ra, rb float64) ellipse { return ellipse{cx * s, cy * s, ra * s, rb * s} }
	switch a {
	case anatChest:
		return section{body: sc(0, 0, 165, 115), fat: 14 * s, organs: []organ{
			{sc(0, 92, 18, 18), tBone},     // vertebra
			{sc(-18, 70, 11, 11), tVessel}, // descending aorta (patient's right of spine is -x; aorta sits left: +x)
			{sc(25, -25, 52, 45), tHeart},
			{sc(-78, 0, 58, 85), tLung},
			{sc(78, 0, 55, 85), tLung},
			{sc(0, -105, 22, 6), tBone}, // sternum
		}}
	case anatAbdomen:
		return section{body: sc(0, 0, 170, 125), fat: 20 * s, organs: []organ{
			{sc(0, 88, 20, 20), tBone},
			{sc(18, 62, 11, 11), tVessel},
			{sc(-70, 60, 25, 32), tKidney},
			{sc(70, 60, 25, 32), tKidney},
			{sc(-70, -5, 80, 70), tLiver},
			{sc(-40, 95, 30, 14), tMuscle}, // psoas / paraspinal
			{sc(40, 95, 30, 14), tMuscle},
		}}
	case anatPelvis:
		return section{body: sc(0, 0, 175, 115), fat: 18 * s, organs: []organ{
			{sc(0, 80, 30, 20), tBone},    // sacrum
			{sc(-105, 25, 28, 28), tBone}, // femoral heads
			{sc(105, 25, 28, 28), tBone},
			{sc(0, -40, 42, 34), tFluid},   // bladder
			{sc(0, 12, 20, 17), tProstate}, // prostate (or uterus/cervix region)
			{sc(0, 45, 15, 14), tMuscle},   // rectum wall
			{sc(-70, 30, 25, 45), tMuscle}, // obturator muscles
			{sc(70, 30, 25, 45), tMuscle},
		}}
	default: // breast, prone: breasts hang anterior (−y)
		return section{body: sc(0, 60, 160, 85), fat: 12 * s, organs: []organ{
			{sc(0, 130, 16, 16), tBone},
			{sc(-80, 30, 45, 40), tLung},
			{sc(80, 30, 45, 40), tLung},
			{sc(0, 20, 40, 35), tHeart},
			{sc(-80, -55, 30, 25), tGland},
			{sc(80, -55, 30, 25), tGland},
			{sc(-80, -45, 62, 60), tFat}, // breasts
			{sc(80, -45, 62, 60), tFat},
		}}
	}
}

// tissueAt returns the tissue at (x, y) of a section, lesion excluded.
func (s *section) tissueAt(x, y float64) tissue {
	for _, o := range s.organs {
		if o.e.in(x, y) {
			// Breasts lie outside the body ellipse; everything else inside it.
			return o.t
		}
	}
	if !s.body.in(x, y) {
		return tAir
	}
	inner := ellipse{s.body.cx, s.body.cy, s.body.a - s.fat, s.body.b - s.fat}
	if !inner.in(x, y) {
		return tFat
	}
	return tSoft
}

// lesionBox is the lesion of a study in the study's frame of reference.
type lesionBox struct {
	cx, cy, cz, rx, ry, rz float64
}

func (l lesionBox) in(x, y, z float64) bool {
	dx, dy, dz := (x-l.cx)/l.rx, (y-l.cy)/l.ry, (z-l.cz)/l.rz
	return dx*dx+dy*dy+dz*dz <= 1
}

// lesionOf returns the patient's lesion as seen in a study.
func lesionOf(st *Study) lesionBox {
	p := st.Patient
	l := p.lesion
	f := st.lesionScale * p.body
	return lesionBox{
		cx: l.x * p.body, cy: l.y * p.body, cz: l.z*p.body + st.zShift,
		rx: l.rx * f, ry: l.ry * f, rz: l.rz * f,
	}
}

// lesionFrames returns the slices (0-based) of a series in which at least one pixel
// centre lies in the lesion, and for each the bounding pixel rectangle is not needed:
// callers test pixels with lesionMask.
func (g *Generator) lesionFrames(se *Series) []int {
	if !se.LesionVisible {
		return nil
	}
	l := lesionOf(se.Study)
	gm := se.geom
	var out []int
	for k := range gm.slices {
		z := gm.z(k)
		if math.Abs(z-l.cz) > l.rz {
			continue
		}
		if lesionInSlice(gm, l, z) {
			out = append(out, k)
		}
	}
	return out
}

// lesionInSlice reports whether a pixel centre of the slice at z lies in the lesion.
func lesionInSlice(gm geometry, l lesionBox, z float64) bool {
	i0, i1, j0, j1 := lesionRect(gm, l)
	for i := i0; i <= i1; i++ {
		for j := j0; j <= j1; j++ {
			if l.in(gm.x0+float64(j)*gm.spacing, gm.y0+float64(i)*gm.spacing, z) {
				return true
			}
		}
	}
	return false
}

// lesionRect returns the rows i0..i1 and columns j0..j1 that may hold the lesion.
func lesionRect(gm geometry, l lesionBox) (i0, i1, j0, j1 int) {
	clamp := func(v float64, n int) int { return max(0, min(n-1, int(v))) }
	j0 = clamp(math.Floor((l.cx-l.rx-gm.x0)/gm.spacing), gm.cols)
	j1 = clamp(math.Ceil((l.cx+l.rx-gm.x0)/gm.spacing), gm.cols)
	i0 = clamp(math.Floor((l.cy-l.ry-gm.y0)/gm.spacing), gm.rows)
	i1 = clamp(math.Ceil((l.cy+l.ry-gm.y0)/gm.spacing), gm.rows)
	return
}
