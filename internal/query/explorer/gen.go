package explorer

import (
	"flag"
	"log"
	"os"
)

// GenMain is the main of a generator that writes a Go file from
// explorer-catalogue.json: it reads -in (required) and -out (default
// vocab_gen.go) and writes what generate makes of the input.
func GenMain(generate func(path string) ([]byte, error)) {
	in := flag.String("in", "", "EUCAIM explorer-catalogue.json")
	out := flag.String("out", "vocab_gen.go", "output Go file")
	flag.Parse()
	if *in == "" {
		log.Fatal("gen: -in is required")
	}
	src, err := generate(*in)
	if err != nil {
		log.Fatalf("gen: %v", err)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		log.Fatalf("gen: %v", err)
	}
}

// ReferencePath returns the shared reference copy of explorer-catalogue.json as a
// generator's folder (internal/<package>/gen) sees it, beside the main tree or
// beside a worktree of it, or "" when there is none (a clone on its own: the
// generated tables are committed).
func ReferencePath() string {
	for _, p := range []string{
		"../../../../shared/reference/eucaim/explorer-catalogue.json",
		"../../../../../shared/reference/eucaim/explorer-catalogue.json",
	} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}
