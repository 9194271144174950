package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// cie runs the command line in-process and returns stdout, stderr and the exit code.
func cie(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	root := NewRoot(&out, &errb)
	root.SetArgs(args)
	code := 0
	if err := root.ExecuteContext(context.Background()); err != nil {
		fmt.Fprintf(&errb, "cie: %v\n", err)
		code = 1
	}
	return out.String(), errb.String(), code
}

func mustCie(t *testing.T, args ...string) string {
	t.Helper()
	out, errs, code := cie(t, args...)
	if code != 0 {
		t.Fatalf("cie %s: %s%s", strings.Join(args, " "), out, errs)
	}
	return out
}

func TestAdminCommands(t *testing.T) {
	dir := t.TempDir()
	hub := filepath.Join(dir, "hub.yaml")
	if err := os.WriteFile(hub, []byte("data_dir: "+filepath.Join(dir, "hub")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := mustCie(t, "migrate", "--hub-config", hub, "--status"); !strings.Contains(out, "00001 00001_init.sql") || !strings.Contains(out, "pending") {
		t.Fatalf("status before: %s", out)
	}
	if out := mustCie(t, "migrate", "--hub-config", hub); !strings.Contains(out, "applied 20") {
		t.Fatalf("migrate: %s", out)
	}
	out := mustCie(t, "admin", "user", "add", "ana", "--role", "researcher", "--hub-config", hub)
	if !regexp.MustCompile(`Password: \S{16}`).MatchString(out) {
		t.Fatalf("generated password not shown: %s", out)
	}
	if out := mustCie(t, "admin", "user", "list", "--hub-config", hub); !strings.Contains(out, "ana ") || !strings.Contains(out, "researcher") {
		t.Fatalf("user list: %s", out)
	}
	tok := strings.TrimSpace(mustCie(t, "admin", "token", "add", "ana", "--label", "laptop", "--hub-config", hub))
	if !strings.HasPrefix(tok, "cie_") {
		t.Fatalf("token: %q", tok)
	}
	list := mustCie(t, "admin", "token", "list", "--hub-config", hub)
	m := regexp.MustCompile(`(?m)^(\S+)\s+ana\s+laptop\s+\S+\s+-$`).FindStringSubmatch(list)
	if m == nil {
		t.Fatalf("token list: %s", list)
	}
	if strings.Contains(list, tok) {
		t.Fatal("token list shows the token itself")
	}
	mustCie(t, "admin", "token", "revoke", m[1], "--hub-config", hub)
	if list := mustCie(t, "admin", "token", "list", "--hub-config", hub); !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(m[1]) + `\s+ana\s+laptop\s+\S+\s+20\d\d-`).MatchString(list) {
		t.Fatalf("token not shown revoked: %s", list)
	}
	if _, errs, code := cie(t, "admin", "token", "revoke", m[1], "--hub-config", hub); code == 0 || !strings.Contains(errs, "not found") {
		t.Fatalf("second revoke: %d %s", code, errs)
	}
	if _, errs, code := cie(t, "admin", "token", "add", "ghost", "--hub-config", hub); code == 0 || !strings.Contains(errs, "ghost") {
		t.Fatalf("token for unknown user: %d %s", code, errs)
	}
	// Data holders belong to nodes at the hub.
	if out := mustCie(t, "admin", "user", "add", "olga", "--role", "data_holder", "--node", "oslo", "--node", "bergen", "--hub-config", hub); !strings.Contains(out, "Nodes of olga: bergen,oslo") {
		t.Fatalf("user add --node: %s", out)
	}
	if out := mustCie(t, "admin", "user", "list", "--hub-config", hub); !regexp.MustCompile(`(?m)^olga\s+data_holder\s+bergen,oslo\s`).MatchString(out) {
		t.Fatalf("user list with nodes: %s", out)
	}
	if out := mustCie(t, "admin", "user", "nodes", "olga", "valencia", "--hub-config", hub); !strings.Contains(out, "Nodes of olga: valencia") {
		t.Fatalf("user nodes set: %s", out)
	}
	if out := mustCie(t, "admin", "user", "nodes", "olga", "--hub-config", hub); !strings.Contains(out, "Nodes of olga: valencia") {
		t.Fatalf("user nodes show: %s", out)
	}
	if out := mustCie(t, "admin", "user", "nodes", "olga", "--none", "--hub-config", hub); !strings.Contains(out, "Nodes of olga: -") {
		t.Fatalf("user nodes --none: %s", out)
	}
	if _, errs, code := cie(t, "admin", "user", "add", "olga", "--node", "Oslo!", "--hub-config", hub); code == 0 || !strings.Contains(errs, "--node") {
		t.Fatalf("bad node: %d %s", code, errs)
	}
	if _, errs, code := cie(t, "admin", "user", "nodes", "ghost", "oslo", "--hub-config", hub); code == 0 || !strings.Contains(errs, "ghost") {
		t.Fatalf("nodes of an unknown user: %d %s", code, errs)
	}
	if _, errs, code := cie(t, "admin", "user", "add", "bob", "--role", "king", "--hub-config", hub); code == 0 || !strings.Contains(errs, "unknown role") {
		t.Fatalf("bad role: %d %s", code, errs)
	}
	if _, errs, code := cie(t, "admin", "user", "list"); code == 0 || !strings.Contains(errs, "--hub-config FILE or --node-config FILE") {
		t.Fatalf("no role: %d %s", code, errs)
	}
	out = mustCie(t, "admin", "node", "add", "oslo", "--hub-config", hub, "--out", filepath.Join(dir, "oslo.creds"))
	if !strings.Contains(out, "Registered node oslo") {
		t.Fatalf("node add: %s", out)
	}
	if st, err := os.Stat(filepath.Join(dir, "oslo.creds")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v %v", st, err)
	}
	if _, errs, code := cie(t, "admin", "node", "add", "oslo2", "--hub-config", hub, "--out", filepath.Join(dir, "oslo.creds")); code == 0 || !strings.Contains(errs, "exists already") {
		t.Fatalf("overwriting credentials: %d %s", code, errs)
	}
	if out := mustCie(t, "admin", "node", "list", "--hub-config", hub); strings.TrimSpace(out) != "oslo" {
		t.Fatalf("node list: %q", out)
	}
	if out := mustCie(t, "version"); !strings.HasPrefix(out, "cie ") {
		t.Fatalf("version: %q", out)
	}
}

func TestClinicalImportCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "node.yaml")
	data := filepath.Join(dir, "node")
	if err := os.WriteFile(cfg, []byte("name: oslo\ndata_dir: "+data+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	csv := filepath.Join(dir, "c.csv")
	mapping := filepath.Join(dir, "m.yaml")
	os.WriteFile(csv, []byte("id,sex,dx\nP1,F,254837009\nP2,M,399068003\nP3,?,399068003\n"), 0o600)
	os.WriteFile(mapping, []byte("patient_id: {column: id}\ncolumns:\n  - {column: sex, element: patient.birth_sex, values: {F: SNOMEDCT248152002, M: SNOMEDCT248153007}}\n  - {column: dx, element: cancer_condition.code, system: SNOMEDCT}\n"), 0o600)
	// Without the node's key there are no pseudonyms to give.
	if _, errs, code := cie(t, "clinical", "import", csv, "--mapping", mapping, "--node-config", cfg); code == 0 || !strings.Contains(errs, "deid.key") {
		t.Fatalf("import without a key: %d %s", code, errs)
	}
	os.MkdirAll(filepath.Join(data, "keys"), 0o700)
	os.WriteFile(filepath.Join(data, "keys", "deid.key"), []byte("0123456789abcdef0123456789abcdef-key"), 0o600)
	out, errs, code := cie(t, "clinical", "import", csv, "--mapping", mapping, "--node-config", cfg)
	if code != 1 || !strings.Contains(out, "c.csv (csv): 3 lines read, 2 records imported, 1 not imported") ||
		!regexp.MustCompile(`cdm_patient\s+2 inserted\s+0 updated\s+0 unchanged`).MatchString(out) ||
		!strings.Contains(out, `line 4: value "?" of column sex is not in its value map`) || !strings.Contains(errs, "1 of 3 lines or entries were not imported") {
		t.Fatalf("import: %d\n%s%s", code, out, errs)
	}
	out, _, _ = cie(t, "clinical", "import", csv, "--mapping", mapping, "--node-config", cfg)
	if !regexp.MustCompile(`cdm_patient\s+0 inserted\s+0 updated\s+2 unchanged`).MatchString(out) {
		t.Fatalf("re-import: %s", out)
	}
	if _, errs, code := cie(t, "clinical", "import", csv, "--node-config", cfg); code == 0 || !strings.Contains(errs, "needs a mapping") {
		t.Fatalf("no mapping: %d %s", code, errs)
	}
}
