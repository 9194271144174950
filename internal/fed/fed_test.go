package fed

import (
	"errors"
	"strings"
	"testing"
)

func TestValidNodeName(t *testing.T) {
	for _, ok := range []string{"oslo", "valencia", "linkoping", "a", "node-2", strings.Repeat("a", 63)} {
		if err := ValidNodeName(ok); err != nil {
			t.Errorf("ValidNodeName(%q) = %v, want ok", ok, err)
		}
	}
	for _, bad := range []string{"", "Oslo", "2node", "a.b", "a*", "a>", "a b", "-a", strings.Repeat("a", 64), "ö"} {
		if err := ValidNodeName(bad); !errors.Is(err, ErrBadName) {
			t.Errorf("ValidNodeName(%q) = %v, want ErrBadName", bad, err)
		}
	}
}

func TestNodeFromSubject(t *testing.T) {
	got, err := NodeFromSubject(HeartbeatSubject("oslo"))
	if err != nil || got != "oslo" {
		t.Fatalf("NodeFromSubject = %q, %v", got, err)
	}
	for _, s := range []string{"cie.v1.node.", "cie.v1.hub.oslo.ping", "x", "cie.v1.node.A.hello"} {
		if _, err := NodeFromSubject(s); err == nil {
			t.Errorf("NodeFromSubject(%q) accepted", s)
		}
	}
}

func TestVersionChecked(t *testing.T) {
	data, err := Marshal(&Heartbeat{Node: "oslo"})
	if err != nil {
		t.Fatal(err)
	}
	var hb Heartbeat
	if err := Unmarshal(data, &hb); err != nil || hb.Node != "oslo" || hb.V != Version {
		t.Fatalf("round trip: %+v, %v", hb, err)
	}
	if err := Unmarshal([]byte(`{"v":99,"node":"oslo"}`), &hb); !errors.Is(err, ErrVersion) {
		t.Fatalf("version 99 accepted: %v", err)
	}
	if err := Unmarshal([]byte(`{`), &hb); err == nil {
		t.Fatal("bad JSON accepted")
	}
}

// TestSubjectsDisjoint checks that no node's subject trees overlap another's.
func TestSubjectsDisjoint(t *testing.T) {
	a, b := NodeSubjects("a"), NodeSubjects("ab")
	if strings.HasPrefix(strings.TrimSuffix(b, ">"), strings.TrimSuffix(a, ">")) {
		t.Fatalf("%s covers %s", a, b)
	}
	if InboxPrefix("a")+"." == InboxPrefix("ab")[:len(InboxPrefix("a"))+1] {
		t.Fatalf("inbox prefixes overlap")
	}
}
