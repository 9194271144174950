package bus

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/cancerimage/cie/internal/bus/bustls"
	"github.com/cancerimage/cie/internal/fed"
)

func TestCredentialsRoundTrip(t *testing.T) {
	c, pub, err := NewCredentials("oslo-1", "nats://hub.example.org:4222")
	if err != nil {
		t.Fatal(err)
	}
	c.HubKey = "hub+abcd+AQID"
	ca, _, err := bustls.LoadOrCreateCA(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c.HubCA = string(ca.PEM)
	if !nkeys.IsValidPublicUserKey(pub) {
		t.Fatalf("public key %q is not a user key", pub)
	}
	if got, err := c.PublicKey(); err != nil || got != pub {
		t.Fatalf("PublicKey() = %q, %v; want %q", got, err, pub)
	}
	path := filepath.Join(t.TempDir(), "node.creds.json")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteCredentials(path, c); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	got, err := ReadCredentials(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != c {
		t.Errorf("read %+v, wrote %+v", got, c)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	// The seed never shows in prints or logs.
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "creds", c)
	for _, s := range []string{c.String(), fmt.Sprintf("%v %+v %s", c, c, c), logged.String()} {
		if strings.Contains(s, c.Seed) || strings.Contains(s, c.Seed[2:20]) {
			t.Errorf("seed leaked in %q", s)
		}
	}
}

func TestUsesTLS(t *testing.T) {
	for url, want := range map[string]bool{
		"nats://h:1":              false,
		"tls://h:1":               true,
		"wss://h:1":               true,
		"nats://h1:1, tls://h2:1": true,
	} {
		if got := (Credentials{HubURL: url}).UsesTLS(); got != want {
			t.Errorf("UsesTLS(%s) = %v", url, got)
		}
	}
	if !(Credentials{HubURL: "nats://h:1", HubCA: "x"}).UsesTLS() {
		t.Error("credentials with hub_ca do not use TLS")
	}
}

func TestNewCredentialsRejects(t *testing.T) {
	if _, _, err := NewCredentials("Bad.Name", "nats://h:1"); !errors.Is(err, fed.ErrBadName) {
		t.Errorf("bad node name: err = %v", err)
	}
	for _, u := range []string{"", "http://h:1", "nats://", "nats://u:p@h:1", "nats://h:1,ftp://x"} {
		if _, _, err := NewCredentials("a", u); err == nil {
			t.Errorf("hub URL %q accepted", u)
		}
	}
	if _, _, err := NewCredentials("a", "nats://h1:4222, tls://h2:4222"); err != nil {
		t.Errorf("URL list refused: %v", err)
	}
}

func TestReadCredentialsErrors(t *testing.T) {
	good, _, err := NewCredentials("a", "nats://127.0.0.1:4222")
	if err != nil {
		t.Fatal(err)
	}
	acct, _ := nkeys.CreateAccount()
	acctSeed, _ := acct.Seed()
	// A tampered seed: one character changed, so its checksum fails.
	tampered := []byte(good.Seed)
	i := len(tampered) / 2
	if tampered[i] == 'A' {
		tampered[i] = 'B'
	} else {
		tampered[i] = 'A'
	}
	dir := t.TempDir()
	cases := []struct {
		name, body, want string
	}{
		{"not json", "node: a\n", "not a JSON credentials file"},
		{"wrong type", `{"node": 7}`, `field "node"`},
		{"unknown field", `{"node":"a","hub_url":"nats://h:1","seed":"x","extra":1}`, `unknown field "extra"`},
		{"no node", fmt.Sprintf(`{"hub_url":"nats://h:1","seed":%q}`, good.Seed), `field "node" is missing`},
		{"bad node", fmt.Sprintf(`{"node":"A B","hub_url":"nats://h:1","seed":%q}`, good.Seed), `field "node"`},
		{"no url", fmt.Sprintf(`{"node":"a","seed":%q}`, good.Seed), `field "hub_url" is missing`},
		{"bad url", fmt.Sprintf(`{"node":"a","hub_url":"http://h","seed":%q}`, good.Seed), `field "hub_url"`},
		{"no seed", `{"node":"a","hub_url":"nats://h:1"}`, `field "seed" is missing`},
		{"tampered seed", fmt.Sprintf(`{"node":"a","hub_url":"nats://h:1","seed":%q}`, tampered), `field "seed"`},
		{"account seed", fmt.Sprintf(`{"node":"a","hub_url":"nats://h:1","seed":%q}`, acctSeed), `field "seed": not a user seed`},
		{"bad hub_ca", fmt.Sprintf(`{"node":"a","hub_url":"tls://h:1","seed":%q,"hub_ca":"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}`, good.Seed), `field "hub_ca"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".json")
			if err := os.WriteFile(path, []byte(tc.body), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := ReadCredentials(path)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %q should name the file and contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), good.Seed) {
				t.Errorf("error leaks the seed: %v", err)
			}
		})
	}
	if _, err := ReadCredentials(filepath.Join(dir, "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if err := WriteCredentials(filepath.Join(dir, "w.json"), Credentials{Node: "a"}); err == nil {
		t.Error("WriteCredentials accepted credentials without a hub URL")
	}
}
