package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAdminNodeAddTLS: with the default hub config, `cie admin node add`
// writes credentials with a tls:// hub URL and the hub's bus CA, the one
// the hub keeps under DATA_DIR/keys; with bus.tls off, a nats:// URL and no
// CA.
func TestAdminNodeAddTLS(t *testing.T) {
	for _, tc := range []struct {
		name, extra, scheme string
		ca                  bool
	}{
		{"default", "", "tls://", true},
		{"off", "  tls: off\n", "nats://", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			data := filepath.Join(dir, "hub")
			hubYAML := filepath.Join(dir, "hub.yaml")
			writeFile(t, hubYAML, fmt.Sprintf("name: tls-hub\ndata_dir: %s\nhttp:\n  listen: 127.0.0.1:0\nbus:\n  listen: 127.0.0.1:4299\n%s", data, tc.extra))
			out := filepath.Join(dir, "oslo.creds")
			cie(t, false, "admin", "node", "add", "oslo", "--hub-config", hubYAML, "--out", out)
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			var creds struct {
				HubURL string `json:"hub_url"`
				HubCA  string `json:"hub_ca"`
			}
			if err := json.Unmarshal(b, &creds); err != nil {
				t.Fatal(err)
			}
			if creds.HubURL != tc.scheme+"127.0.0.1:4299" {
				t.Errorf("hub_url %q, want %s127.0.0.1:4299", creds.HubURL, tc.scheme)
			}
			ca, err := os.ReadFile(filepath.Join(data, "keys", "bus-ca.pem"))
			switch {
			case tc.ca && err != nil:
				t.Fatalf("no CA in the hub's key folder: %v", err)
			case tc.ca && (creds.HubCA != string(ca) || !strings.Contains(creds.HubCA, "BEGIN CERTIFICATE")):
				t.Errorf("hub_ca is not the hub's bus CA: %q", creds.HubCA)
			case !tc.ca && (creds.HubCA != "" || err == nil):
				t.Errorf("tls off: hub_ca %q, CA file made: %v", creds.HubCA, err == nil)
			}
		})
	}
}
