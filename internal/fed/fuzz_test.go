package fed

import (
	"testing"
)

// FuzzUnmarshal: whatever a node sends, decoding never panics, and what
// decodes re-encodes to something that decodes to the same message.
func FuzzUnmarshal(f *testing.F) {
	for _, m := range []Message{
		&Hello{Node: "oslo", Version: "v1", AuditKey: "k"},
		&Heartbeat{Node: "oslo"},
		&CheckpointRequest{Node: "oslo", Checkpoint: []byte("cp\n1\nAA==\n"), OldSize: 3, Proof: [][]byte{{1, 2}}},
	} {
		b, err := Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"v":1,"proof":[null,"",""]}`))
	f.Add([]byte(`{"v":1e400}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var req CheckpointRequest
		if Unmarshal(data, &req) == nil {
			b, err := Marshal(&req)
			if err != nil {
				t.Fatalf("re-encoding: %v", err)
			}
			var again CheckpointRequest
			if err := Unmarshal(b, &again); err != nil {
				t.Fatalf("decoding re-encoded: %v", err)
			}
			if again.Node != req.Node || again.OldSize != req.OldSize || len(again.Proof) != len(req.Proof) {
				t.Fatalf("round trip changed %+v to %+v", req, again)
			}
		}
		var h Hello
		_ = Unmarshal(data, &h)
		_, _ = NodeFromSubject(string(data))
	})
}
