package hub

import (
	"path/filepath"
	"strings"

	"github.com/cancerimage/cie/internal/config"
)

// Config is the hub's configuration (hub.yaml).
type Config struct {
	Name    string      `yaml:"name" help:"name of this hub; also the origin of its audit log"`
	DataDir string      `yaml:"data_dir" help:"folder for the hub's database, keys, bus and audit log"`
	DB      string      `yaml:"db" help:"SQL store: a file path or sqlite:// URL (default DATA_DIR/hub.db), or a postgres:// URL"`
	HTTP    config.HTTP `yaml:"http"`
	Bus     struct {
		Listen    string `yaml:"listen" help:"host:port of the NATS bus that nodes dial"`
		PublicURL string `yaml:"public_url" help:"bus URL written into node credentials (default nats://LISTEN)"`
	} `yaml:"bus"`
	Log           config.Log `yaml:"log"`
	SecureCookies bool       `yaml:"secure_cookies" help:"mark session cookies Secure (set when served over HTTPS)"`
}

// DefaultConfig returns the defaults, for a hub whose data lives in dir.
func DefaultConfig() Config {
	var c Config
	c.Name = "cie-hub"
	c.DataDir = "./cie-hub"
	c.HTTP.Listen = "127.0.0.1:8080"
	c.Bus.Listen = "127.0.0.1:4222"
	c.Log = config.DefaultLog
	return c
}

// Validate checks every field and fills in derived defaults.
func (c *Config) Validate() error {
	if c.Name == "" || strings.ContainsAny(c.Name, " +\n\t") {
		return config.Errorf("name", "%q must be non-empty without spaces or '+'", c.Name)
	}
	if c.DataDir == "" {
		return config.Errorf("data_dir", "must be set")
	}
	if c.DB == "" {
		c.DB = filepath.Join(c.DataDir, "hub.db")
	}
	if err := c.HTTP.Check("http"); err != nil {
		return err
	}
	if err := config.CheckHostPort("bus.listen", c.Bus.Listen); err != nil {
		return err
	}
	if c.Bus.PublicURL == "" {
		c.Bus.PublicURL = "nats://" + c.Bus.Listen
	} else if err := config.CheckURL("bus.public_url", c.Bus.PublicURL, "nats", "tls", "ws", "wss"); err != nil {
		return err
	}
	return c.Log.Check("log")
}
