package node

import (
	"path/filepath"

	"github.com/cancerimage/cie/internal/config"
	"github.com/cancerimage/cie/internal/deid"
	"github.com/cancerimage/cie/internal/fed"
)

// Config is a node's configuration (node.yaml).
type Config struct {
	Name          string      `yaml:"name" help:"the node's name, as registered at the hub"`
	DataDir       string      `yaml:"data_dir" help:"folder for the node's database, blobs and audit log"`
	Credentials   string      `yaml:"credentials" help:"credentials file from 'cie admin node add' (default DATA_DIR/node.creds)"`
	DB            string      `yaml:"db" help:"SQL store: a file path or sqlite:// URL (default DATA_DIR/node.db), or a postgres:// URL"`
	Blob          string      `yaml:"blob" help:"blob store URL: file:///path (default DATA_DIR/blobs) or s3://bucket?..."`
	HTTP          config.HTTP `yaml:"http"`
	Log           config.Log  `yaml:"log"`
	SecureCookies bool        `yaml:"secure_cookies" help:"mark session cookies Secure (set when served over HTTPS)"`
	Deid          Deid        `yaml:"deid"`
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
	if err := c.HTTP.Check("http"); err != nil {
		return err
	}
	return c.Log.Check("log")
}
