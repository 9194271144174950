package freeport

import (
	"net"
	"strconv"
	"testing"
)

// TestNeverRepeats: a port picked once is not picked again by the same Picker,
// even when it is free again (the listener that found it free has closed) and asked for.
func TestNeverRepeats(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	var p Picker
	first, err := p.Pick(port)
	if err != nil || first != "127.0.0.1:"+strconv.Itoa(port) {
		t.Fatalf("first pick %q, %v; want the preferred port %d", first, err, port)
	}
	seen := map[string]bool{first: true}
	for range 100 {
		a, err := p.Pick(port)
		if err != nil {
			t.Fatal(err)
		}
		if seen[a] {
			t.Fatalf("%s picked twice", a)
		}
		seen[a] = true
	}
}
