// Package viewertest runs the viewer against a real DICOMweb server for tests,
// before cie's own DICOMweb exists: Orthanc with its DICOMweb plugin (Debian's
// orthanc and orthanc-dicomweb), started on free loopback ports with its own
// configuration and storage (StartOrthanc), filled with a generated CT series
// (CTSeries, made from one real CT image) and sample files, behind one HTTP
// server that serves the viewer and relays DICOMweb on the same origin
// (Start), the way a node (/dicomweb) or the hub (/nodes/{node}/dicomweb)
// will.
//
// The program in ./cmd/viewer-orthanc starts such an environment and prints
// it as JSON for the browser test (tests/browser/viewer.test.mjs).
package viewertest
