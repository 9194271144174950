package disclosure

import (
	"errors"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/cancerimage/cie/internal/config"
)

func TestPolicy(t *testing.T) {
	if err := DefaultPolicy().Validate(); err != nil {
		t.Fatalf("default policy: %v", err)
	}
	var p Policy
	src := "threshold: 5\nepsilon: 0.5\nbudget: 10\nperiod: 168h\nallowed_keys: [RID10311, SNOMEDCT123037004]\n"
	if err := yaml.Unmarshal([]byte(src), &p); err != nil {
		t.Fatal(err)
	}
	want := Policy{Threshold: 5, Epsilon: 0.5, Budget: 10, Period: 168 * time.Hour, AllowedKeys: []string{"RID10311", "SNOMEDCT123037004"}}
	if p.Threshold != want.Threshold || p.Epsilon != want.Epsilon || p.Budget != want.Budget || p.Period != want.Period || strings.Join(p.AllowedKeys, ",") != "RID10311,SNOMEDCT123037004" {
		t.Fatalf("decoded %+v", p)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if !p.Allows("RID10311") || p.Allows("C25392") || !DefaultPolicy().Allows("C25392") {
		t.Error("Allows")
	}
	if len(DefaultPolicy().Keys()) != 21 || len(p.Keys()) != 2 {
		t.Error("Keys")
	}
	for field, bad := range map[string]Policy{
		"threshold":    {Threshold: 0, Epsilon: 1, Budget: 1, Period: time.Hour},
		"epsilon":      {Threshold: 1, Epsilon: 0, Budget: 1, Period: time.Hour},
		"budget":       {Threshold: 1, Epsilon: 2, Budget: 1, Period: time.Hour},
		"period":       {Threshold: 1, Epsilon: 1, Budget: 1, Period: time.Minute},
		"allowed_keys": {Threshold: 1, Epsilon: 1, Budget: 1, Period: time.Hour, AllowedKeys: []string{"RID10312"}},
	} {
		err := bad.Validate()
		var fe *config.FieldError
		if !errors.As(err, &fe) || fe.Key != field {
			t.Errorf("%s: %v, want a field error naming it", field, err)
		}
	}
}
