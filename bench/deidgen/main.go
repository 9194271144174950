// Command deidgen writes a benchmark input for bench/deid.sh: N copies of
// the given DICOM files, each with its own patient, study, series and
// instance UIDs (so that every output is a distinct instance), spread over
// patient folders as a hospital export would be.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/cancerimage/cie/internal/dicom"
)

func main() {
	out := flag.String("out", "", "output folder")
	n := flag.Int("n", 100, "copies of each input file")
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		log.Fatal("usage: deidgen -out DIR [-n N] FILE...")
	}
	for fi, path := range flag.Args() {
		src, err := os.ReadFile(path)
		if err != nil {
			log.Fatal(err)
		}
		for i := 0; i < *n; i++ {
			f, err := dicom.Parse(bytes.NewReader(src), int64(len(src)), dicom.ParseOptions{BulkThreshold: -1})
			if err != nil {
				log.Fatalf("%s: %v", path, err)
			}
			patient := i % 50
			set := func(d *dicom.Dataset, g, e uint16, vr dicom.VR, v string) {
				if err := d.Set(dicom.NewTag(g, e), vr, dicom.PadText(vr, v)); err != nil {
					log.Fatal(err)
				}
			}
			root := "1.2.826.0.1.3680043.10.997"
			inst := fmt.Sprintf("%s.%d.%d", root, fi, i)
			set(f.Dataset, 0x0010, 0x0010, dicom.PN, fmt.Sprintf("Bench^Patient%03d", patient))
			set(f.Dataset, 0x0010, 0x0020, dicom.LO, fmt.Sprintf("BENCH%06d", patient))
			set(f.Dataset, 0x0020, 0x000D, dicom.UI, fmt.Sprintf("%s.1.%d", root, patient))
			set(f.Dataset, 0x0020, 0x000E, dicom.UI, fmt.Sprintf("%s.2.%d.%d", root, patient, fi))
			set(f.Dataset, 0x0008, 0x0018, dicom.UI, inst)
			if f.Meta != nil {
				set(f.Meta, 0x0002, 0x0003, dicom.UI, inst)
			}
			dst := filepath.Join(*out, fmt.Sprintf("patient%03d", patient), fmt.Sprintf("%d_%05d.dcm", fi, i))
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				log.Fatal(err)
			}
			fh, err := os.Create(dst)
			if err != nil {
				log.Fatal(err)
			}
			if _, err := f.WriteTo(fh); err != nil {
				log.Fatal(err)
			}
			if err := fh.Close(); err != nil {
				log.Fatal(err)
			}
		}
	}
}
