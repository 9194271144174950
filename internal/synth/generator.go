package synth

import (
	"fmt"
	"hash/fnv"
	"iter"
)

// Generator generates the data of one node. It holds only its options; every patient
// is planned anew from the seed when asked for, so a Generator is cheap, safe for
// concurrent use, and patients can be generated in any order or in parallel.
type Generator struct {
	opt      Options
	k        keyer
	country  *country
	nodeSalt int
}

// New returns a generator for the options (see Options for defaults), or an error
// wrapping ErrOptions.
func New(opt Options) (*Generator, error) {
	o, err := opt.normalise()
	if err != nil {
		return nil, err
	}
	g := &Generator{opt: o, k: newKeyer(o.Seed, o.Node), country: countryFor(o.Node)}
	h := fnv.New32a()
	h.Write([]byte(o.Node))
	g.nodeSalt = int(h.Sum32() % 1000)
	if g.opt.Patients == 0 {
		g.opt.Patients = g.k.rng("patients").between(50, 200)
	}
	return g, nil
}

// Options returns the generator's options with defaults filled in (Patients is the
// actual number of patients).
func (g *Generator) Options() Options { return g.opt }

// Country returns the name of the node's country ("Norway", "Spain", "Sweden"), or ""
// for the neutral set.
func (g *Generator) Country() string { return g.country.name }

// PatientIDIssuers returns the Issuer of Patient ID (0010,0021) values the generated
// files carry, one per hospital whose imaging departments make the studies: a patient's studies
// from different departments name its Patient ID under different issuers (so a
// de-identified patient has one pseudonym per issuer).
func (g *Generator) PatientIDIssuers() []string {
	// Studies come from the first hospital, PET-CT from the second (see study).
	hs := g.country.hospitals
	out := []string{hs[0].aePrefix}
	if h := hs[1%len(hs)]; h.aePrefix != out[0] {
		out = append(out, h.aePrefix)
	}
	return out
}

// Patient returns the plan of patient i (0 ≤ i < Options().Patients): identity,
// clinical row, studies and series, without pixel data.
func (g *Generator) Patient(i int) (*Patient, error) {
	if i < 0 || i >= g.opt.Patients {
		return nil, fmt.Errorf("synth: patient %d is not within 0 and %d", i, g.opt.Patients-1)
	}
	return g.patient(i), nil
}

// Patients yields the plans of all patients in order.
func (g *Generator) Patients() iter.Seq[*Patient] {
	return func(yield func(*Patient) bool) {
		for i := range g.opt.Patients {
			if !yield(g.patient(i)) {
				return
			}
		}
	}
}

// Clinical yields the clinical rows of all patients in order.
func (g *Generator) Clinical() iter.Seq[Clinical] {
	return func(yield func(Clinical) bool) {
		for p := range g.Patients() {
			if !yield(p.Clinical) {
				return
			}
		}
	}
}

// Instances yields the instances of a series (of this generator's plan) in order,
// each built when it is reached. After an error the sequence ends.
func (g *Generator) Instances(se *Series) iter.Seq2[*Instance, error] {
	return func(yield func(*Instance, error) bool) {
		if se.kind == kindSEG {
			in, err := g.segmentation(se)
			yield(in, err)
			return
		}
		lab := labels(se)
		for k := range se.Instances {
			in, err := g.image(se, k, lab)
			if !yield(in, err) || err != nil {
				return
			}
		}
	}
}

// Walk calls fn for every instance of every patient, in order (patient, study,
// series, instance), and stops at the first error, which it returns wrapped.
func (g *Generator) Walk(fn func(*Instance) error) error {
	for p := range g.Patients() {
		if err := g.WalkPatient(p, fn); err != nil {
			return err
		}
	}
	return nil
}

// WalkPatient calls fn for every instance of one patient, in order.
func (g *Generator) WalkPatient(p *Patient, fn func(*Instance) error) error {
	for _, st := range p.Studies {
		for _, se := range st.Series {
			for in, err := range g.Instances(se) {
				if err != nil {
					return fmt.Errorf("synth: patient %s: %w", p.ID, err)
				}
				if err := fn(in); err != nil {
					return fmt.Errorf("synth: patient %s, instance %s: %w", p.ID, in.SOPInstanceUID, err)
				}
			}
		}
	}
	return nil
}
