package main

import (
	"testing"
	"time"
)

// TestSmoke runs the benchmark small (two phases, of 1 and 3 nodes of 150 generated
// patients, 5 searches each), so that it keeps working: every node must answer every
// search with "ok". The figures it prints mean nothing at this size.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a hub and four nodes")
	}
	notOK, err := run("1,3", 150, 5, t.TempDir(), "../../internal/app/demo-clinical-mapping.yaml", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if notOK != 0 {
		t.Fatalf("%d node answers were not ok", notOK)
	}
}
