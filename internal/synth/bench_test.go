package synth

import (
	"io"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkScale generates and encodes (to io.Discard) the instances of scale-mode
// patients (ScaleOptions: 8×8 images, full headers), one patient per iteration, and
// reports instances per second.
func BenchmarkScale(b *testing.B) {
	g := mustNew(b, ScaleOptions("oslo", 1, 1<<30))
	n := 0
	i := 0
	start := time.Now()
	for b.Loop() {
		p, err := g.Patient(i)
		if err != nil {
			b.Fatal(err)
		}
		i++
		err = g.WalkPatient(p, func(in *Instance) error {
			n++
			_, err := in.File.WriteTo(io.Discard)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "instances/s")
	b.ReportMetric(float64(n)/float64(i), "instances/patient")
}

// BenchmarkScaleParallel is BenchmarkScale with one goroutine per CPU, each taking
// the next patient: patients are independent, so generation scales with cores.
func BenchmarkScaleParallel(b *testing.B) {
	g := mustNew(b, ScaleOptions("oslo", 1, 1<<30))
	var next, n atomic.Int64
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p, err := g.Patient(int(next.Add(1) - 1))
			if err != nil {
				b.Error(err)
				return
			}
			err = g.WalkPatient(p, func(in *Instance) error {
				n.Add(1)
				_, err := in.File.WriteTo(io.Discard)
				return err
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "instances/s")
}

// BenchmarkDemoSeries generates one demo-size (128×128) CT series.
func BenchmarkDemoSeries(b *testing.B) {
	g := mustNew(b, DemoOptions("valencia", 1))
	p, err := g.Patient(0)
	if err != nil {
		b.Fatal(err)
	}
	se := p.Studies[0].Series[0]
	n := 0
	start := time.Now()
	for b.Loop() {
		for in, err := range g.Instances(se) {
			if err != nil {
				b.Fatal(err)
			}
			n++
			if _, err := in.File.WriteTo(io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "instances/s")
}
