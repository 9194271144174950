package fed

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestVisaSubjects checks that a node may publish its key requests and read
// the hub's pushes with the rights internal/bus gives it, and no other node's.
func TestVisaSubjects(t *testing.T) {
	under := func(subject, tree string) bool { return strings.HasPrefix(subject, strings.TrimSuffix(tree, ">")) }
	if s := VisaKeysSubject("oslo"); !under(s, NodeSubjects("oslo")) || under(s, NodeSubjects("valencia")) {
		t.Fatalf("%s is not under oslo's publish rights alone", s)
	}
	if s := VisaUpdateSubject("oslo"); !under(s, HubSubjects("oslo")) || under(s, HubSubjects("valencia")) {
		t.Fatalf("%s is not under oslo's subscribe rights alone", s)
	}
	if n, err := NodeFromSubject(VisaKeysSubject("oslo")); err != nil || n != "oslo" {
		t.Fatalf("NodeFromSubject = %q, %v", n, err)
	}
	if !strings.HasSuffix(AllVisaKeys, ".visa.keys") || !strings.HasPrefix(VisaKeysSubject("x"), strings.TrimSuffix(AllVisaKeys, "*.visa.keys")) {
		t.Fatalf("AllVisaKeys %s does not match VisaKeysSubject", AllVisaKeys)
	}
}

func TestVisaKeysRoundTrip(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	in := &VisaKeys{Issuer: "https://hub.example.org", Generation: 7, JWKS: json.RawMessage(`{"keys":[]}`), Time: at,
		Revocations: VisaRevocations{Version: 3, Entries: []VisaRevocation{{JTI: "j", RevokedAt: at, Reason: "r", Expires: at}}}}
	data, err := Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out VisaKeys
	if err := Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	if out.Issuer != in.Issuer || out.Generation != 7 || string(out.JWKS) != `{"keys":[]}` || out.Revocations.Version != 3 ||
		len(out.Revocations.Entries) != 1 || out.Revocations.Entries[0] != in.Revocations.Entries[0] {
		t.Fatalf("round trip: %+v", out)
	}
	var req VisaKeysRequest
	if err := Unmarshal([]byte(`{"v":2,"node":"oslo"}`), &req); err == nil {
		t.Fatal("version 2 accepted")
	}
}
