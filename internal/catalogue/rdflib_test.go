package catalogue

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// rdflibPython finds a Python with rdflib (Debian's python3-rdflib), or "".
func rdflibPython() string {
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if path, err := exec.LookPath(p); err == nil && exec.Command(path, "-c", "import rdflib").Run() == nil {
			return path
		}
	}
	return ""
}

// TestRDFLibAgrees has an independent implementation, Python's rdflib, parse
// the Turtle and the JSON-LD of a catalogue: both must parse, give isomorphic
// graphs, and hold every dataset with its title. Skipped without rdflib.
func TestRDFLibAgrees(t *testing.T) {
	py := rdflibPython()
	if py == "" {
		t.Skip("no python3 with rdflib (Debian: python3-rdflib)")
	}
	c := testCatalog()
	ds := []Dataset{sampleDataset("a1"), sampleDataset("b2")}
	ds[1].Title = "Ægir's \"other\" dataset\nwith a newline"
	dir := t.TempDir()
	for f, name := range map[Format]string{FormatTurtle: "cat.ttl", FormatJSONLD: "cat.jsonld"} {
		var b bytes.Buffer
		if err := c.WriteCatalog(&b, f, ds); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	script := `
import sys
from rdflib import Graph, URIRef, Namespace
from rdflib.compare import isomorphic
DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCT = Namespace("http://purl.org/dc/terms/")
RDF = Namespace("http://www.w3.org/1999/02/22-rdf-syntax-ns#")
ttl = Graph().parse(sys.argv[1] + "/cat.ttl", format="turtle")
jsonld = Graph().parse(sys.argv[1] + "/cat.jsonld", format="json-ld")
print("isomorphic", isomorphic(ttl, jsonld))
for s in sorted(ttl.subjects(RDF.type, DCAT.Dataset)):
    print("dataset", s, repr(str(ttl.value(s, DCT.title))))
`
	out, err := exec.Command(py, "-c", script, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("rdflib: %v\n%s", err, out)
	}
	got := string(out)
	for _, want := range []string{
		"isomorphic True",
		"dataset " + c.DatasetIRI("a1") + ` 'Lung "LIDC-like" CT \\ MR – Ñoño 肺癌 😀'`,
		"dataset " + c.DatasetIRI("b2") + ` 'Ægir\'s "other" dataset\nwith a newline'`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("rdflib output lacks %s:\n%s", want, got)
		}
	}
}
