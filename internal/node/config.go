package node

import (
	"errors"
	"path/filepath"
	"strings"
	"time"

	"github.com/cancerimage/cie/internal/config"
	"github.com/cancerimage/cie/internal/deid"
	"github.com/cancerimage/cie/internal/disclosure"
	"github.com/cancerimage/cie/internal/fed"
	"github.com/cancerimage/cie/internal/visa"
)

// Config is a node's configuration (node.yaml).
type Config struct {
	Name          string            `yaml:"name" help:"the node's name, as registered at the hub"`
	DataDir       string            `yaml:"data_dir" help:"folder for the node's database, blobs and audit log"`
	Credentials   string            `yaml:"credentials" help:"credentials file from 'cie admin node add' (default DATA_DIR/node.creds)"`
	DB            string            `yaml:"db" help:"SQL store: a file path or sqlite:// URL (default DATA_DIR/node.db), or a postgres:// URL"`
	Blob          string            `yaml:"blob" help:"blob store URL: file:///path (default DATA_DIR/blobs) or s3://bucket?..."`
	HTTP          config.HTTP       `yaml:"http"`
	Log           config.Log        `yaml:"log"`
	SecureCookies bool              `yaml:"secure_cookies" help:"mark session cookies Secure (set when served over HTTPS)"`
	Deid          Deid              `yaml:"deid"`
	DIMSE         DIMSE             `yaml:"dimse"`
	Search        disclosure.Policy `yaml:"search"`
	VisaLeeway    time.Duration     `yaml:"visa_leeway" help:"clock skew allowed on the times of a visa (exp, nbf, iat) when the node verifies it (default 1m; 1s to 10m)"`
}

// DIMSE configures the node's DICOM network service (C-ECHO, C-STORE, C-FIND), for PACS.
type DIMSE struct {
	Listen          string   `yaml:"listen" help:"address of the DICOM service (C-ECHO, C-STORE, C-FIND), e.g. 0.0.0.0:11112; empty: off"`
	AETitle         string   `yaml:"ae_title" help:"the node's AE title (at most 16 characters)"`
	AllowedCallers  []string `yaml:"allowed_callers" help:"calling AE titles allowed to associate, comma-separated; empty: any"`
	MaxAssociations int      `yaml:"max_associations" help:"associations served at once"`
}

// Deid configures the de-identification every ingest goes through.
type Deid struct {
	Options []string `yaml:"options" help:"profile options (PS3.15 E.1-1), comma-separated: retain-safe-private, retain-uids, retain-device-identity, retain-institution-identity, retain-patient-characteristics, full-dates or modified-dates, clean-descriptors, clean-structured-content, clean-graphics"`
	KeyFile string   `yaml:"key_file" help:"secret key of the node's pseudonyms, made on first start (default DATA_DIR/keys/deid.key); keep it: another key gives other pseudonyms"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	var c Config
	c.DataDir = "./cie-node"
	c.HTTP.Listen = "127.0.0.1:8081"
	c.Log = config.DefaultLog
	c.DIMSE.AETitle = "CIE"
	c.DIMSE.MaxAssociations = 32
	c.Search = disclosure.DefaultPolicy()
	return c
}

// Validate checks every field and fills in derived defaults.
func (c *Config) Validate() error {
	if err := fed.ValidNodeName(c.Name); err != nil {
		return config.Errorf("name", "%v", err)
	}
	if c.DataDir == "" {
		return config.Errorf("data_dir", "must be set")
	}
	if c.Credentials == "" {
		c.Credentials = filepath.Join(c.DataDir, "node.creds")
	}
	if c.DB == "" {
		c.DB = filepath.Join(c.DataDir, "node.db")
	}
	if c.Blob == "" {
		abs, err := filepath.Abs(filepath.Join(c.DataDir, "blobs"))
		if err != nil {
			return config.Errorf("blob", "%v", err)
		}
		c.Blob = "file://" + abs
	} else if err := config.CheckURL("blob", c.Blob, "file", "s3"); err != nil {
		return err
	}
	if c.Deid.KeyFile == "" {
		c.Deid.KeyFile = filepath.Join(c.DataDir, "keys", "deid.key")
	}
	if _, err := deid.ParseOptions(c.Deid.Options); err != nil {
		return config.Errorf("deid.options", "%v", err)
	}
	if c.DIMSE.Listen != "" {
		if err := config.CheckHostPort("dimse.listen", c.DIMSE.Listen); err != nil {
			return err
		}
	}
	for _, ae := range append([]string{c.DIMSE.AETitle}, c.DIMSE.AllowedCallers...) {
		if ae = strings.TrimSpace(ae); ae == "" || len(ae) > 16 || strings.ContainsAny(ae, "\\\x00") {
			return config.Errorf("dimse.ae_title", "%q is not an AE title (1 to 16 characters, no backslash)", ae)
		}
	}
	if c.DIMSE.MaxAssociations < 1 {
		return config.Errorf("dimse.max_associations", "must be at least 1")
	}
	if err := c.Search.Validate(); err != nil {
		var fe *config.FieldError
		if errors.As(err, &fe) {
			return config.Errorf("search."+fe.Key, "%s", fe.Msg)
		}
		return config.Errorf("search", "%v", err)
	}
	if err := c.HTTP.Check("http"); err != nil {
		return err
	}
	switch {
	case c.VisaLeeway == 0:
		c.VisaLeeway = visa.DefaultLeeway
	case c.VisaLeeway < time.Second || c.VisaLeeway > 10*time.Minute:
		return config.Errorf("visa_leeway", "%s: want 1s to 10m", c.VisaLeeway)
	}
	return c.Log.Check("log")
}
