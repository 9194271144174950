package deid

import (
	"errors"
	"regexp"
	"testing"

	"github.com/cancerimage/cie/internal/deid/profile"
)

var key = []byte("0123456789abcdef0123456789abcdef")

func TestPseudonyms(t *testing.T) {
	p, err := NewPseudonyms(key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewPseudonyms(key[:31]); !errors.Is(err, ErrShortKey) {
		t.Fatalf("short key: %v", err)
	}
	other, _ := NewPseudonyms([]byte("another key of at least 32 bytes!"))
	uid := p.UID("1.2.840.113619.2.1.1.1")
	if !regexp.MustCompile(`^2\.25\.[1-9][0-9]{0,38}$`).MatchString(uid) || len(uid) > 64 {
		t.Fatalf("UID %q", uid)
	}
	if p.UID("1.2.840.113619.2.1.1.1") != uid || other.UID("1.2.840.113619.2.1.1.1") == uid || p.UID("1.2.840.113619.2.1.1.2") == uid {
		t.Fatal("UID pseudonyms are not a keyed function of the UID")
	}
	pid := p.PatientID("", "12345")
	if len(pid) > 64 || pid == p.PatientID("HOSP", "12345") || pid != p.PatientID("", "12345") {
		t.Fatalf("patient pseudonym %q", pid)
	}
	if acc := p.Accession("", "ACC1"); len(acc) != 16 {
		t.Fatalf("accession pseudonym %q: SH holds 16", acc)
	}
	for i := 0; i < 100; i++ {
		d := p.DateShift("", string(rune('a'+i)))
		if d > -1 || d < -3650 {
			t.Fatalf("date shift %d", d)
		}
	}
}

func TestDateShiftKeepsIntervals(t *testing.T) {
	a, ok1 := shiftDate("20200101", -400)
	b, ok2 := shiftDate("20200315", -400)
	if !ok1 || !ok2 || a != "20181127" || b != "20190209" {
		t.Fatalf("%s %s", a, b) // both 400 days earlier: 74 days apart, as before
	}
	if s, ok := shiftDate(`20200101\20200102`, -1); !ok || s != `20191231\20200101` {
		t.Fatalf("multi-valued: %q", s)
	}
	if _, ok := shiftDate("2020AB01", -1); ok {
		t.Fatal("a non-date shifted")
	}
	if s, ok := shiftDateTime("20200101123000.5+0100", -1); !ok || s != "20191231123000.5+0100" {
		t.Fatalf("datetime: %q", s)
	}
	if _, ok := shiftDateTime("2020", -1); ok {
		t.Fatal("a year alone shifted")
	}
}

func TestOptions(t *testing.T) {
	o, err := ParseOptions([]string{"retain-uids", "ModifiedDates", "RetainLongModifiedDates"})
	if err == nil {
		t.Fatalf("accepted %v", o)
	}
	o, err = ParseOptions([]string{"retain-uids", "modified-dates", "clean-descriptors"})
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, c := range o.Codes() {
		codes = append(codes, c.Value)
	}
	if len(codes) != 4 || codes[0] != "113100" {
		t.Fatalf("codes %v", codes)
	}
	if _, err := ParseOptions([]string{"full-dates", "modified-dates"}); err == nil {
		t.Fatal("both date options accepted")
	}
	if err := (Options{Options: []profile.Option{profile.CleanPixelData}}).Check(); err == nil {
		t.Fatal("clean pixel data accepted though not available")
	}
	if len(splitLO(o.Method())) == 0 {
		t.Fatal("no method")
	}
	for _, v := range regexp.MustCompile(`\\`).Split(splitLO(o.Method()+", "+o.Method()), -1) {
		if len(v) > 64 {
			t.Fatalf("LO value of %d characters", len(v))
		}
	}
}
