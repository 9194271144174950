package hub

import (
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/cancerimage/cie/internal/bus/bustls"
	"github.com/cancerimage/cie/internal/config"
	"github.com/cancerimage/cie/internal/fed"
)

// Config is the hub's configuration (hub.yaml).
type Config struct {
	Name    string      `yaml:"name" help:"name of this hub; also the origin of its audit log"`
	DataDir string      `yaml:"data_dir" help:"folder for the hub's database, keys, bus and audit log"`
	DB      string      `yaml:"db" help:"SQL store: a file path or sqlite:// URL (default DATA_DIR/hub.db), or a postgres:// URL"`
	HTTP    config.HTTP `yaml:"http"`
	Bus     struct {
		Listen    string `yaml:"listen" help:"host:port of the NATS bus that nodes dial"`
		PublicURL string `yaml:"public_url" help:"bus URL written into node credentials (default tls://LISTEN, or nats://LISTEN with tls: off)"`
		TLS       string `yaml:"tls" help:"TLS of the bus: auto (the hub's own CA and certificate, under DATA_DIR/keys), files (tls_cert and tls_key), or off"`
		TLSCert   string `yaml:"tls_cert" help:"with tls: files, the bus server's certificate chain (PEM file)"`
		TLSKey    string `yaml:"tls_key" help:"with tls: files, the bus server's private key (PEM file)"`
		TLSCA     string `yaml:"tls_ca" help:"with tls: files, the CA certificate(s) written into node credentials (PEM file; default: nodes trust their system's CAs)"`
	} `yaml:"bus"`
	Log           config.Log   `yaml:"log"`
	SecureCookies bool         `yaml:"secure_cookies" help:"mark session cookies Secure (set when served over HTTPS)"`
	OIDC          OIDCConfig   `yaml:"oidc"`
	Blob          string       `yaml:"blob" help:"blob store for access request attachments: file:///path (default DATA_DIR/blobs) or s3://bucket?..."`
	Access        AccessConfig `yaml:"access"`
	Search        SearchConfig `yaml:"search"`
}

// SearchConfig is the search section of hub.yaml: the federated search broker and the
// public atlas.
type SearchConfig struct {
	Timeout  time.Duration `yaml:"timeout" help:"how long a federated search (and an atlas refresh) waits for the nodes' answers (default 3s; 100ms to 60s)"`
	AtlasTTL time.Duration `yaml:"atlas_ttl" help:"how long the public atlas keeps the nodes' totals before asking again (default 1m; 1s to 24h)"`
}

// Defaults of the search section.
const (
	DefaultSearchTimeout = 3 * time.Second
	DefaultAtlasTTL      = time.Minute
)

// AccessConfig is the access section of hub.yaml: how access requests are negotiated.
type AccessConfig struct {
	AutoReview    bool          `yaml:"auto_review" help:"send new access requests straight to the data holders, without a platform admin's review"`
	VisaTTL       time.Duration `yaml:"visa_ttl" help:"how long a visa issued on an approval is valid (default 2160h, 90 days; 1s to 8760h)"`
	MaxAttachment int64         `yaml:"max_attachment" help:"largest file attached to an access request, in bytes (default 20 MiB)"`
	Webhooks      []string      `yaml:"webhooks" help:"per node, a URL told about changes of that node's request parts (POST JSON), as NODE=URL"`
}

// Defaults of the access section.
const (
	DefaultVisaTTL       = 90 * 24 * time.Hour
	DefaultMaxAttachment = 20 << 20
)

// The values of bus.tls.
const (
	// BusTLSAuto: the hub keeps its own CA and a server certificate signed
	// by it under DATA_DIR/keys; node credentials carry the CA.
	BusTLSAuto = "auto"
	// BusTLSFiles: the server certificate and key come from bus.tls_cert and
	// bus.tls_key; node credentials carry bus.tls_ca, if set.
	BusTLSFiles = "files"
	// BusTLSOff: plain TCP. Only for a bus that never leaves a trusted
	// network.
	BusTLSOff = "off"
)

// DefaultConfig returns the defaults, for a hub whose data lives in dir.
func DefaultConfig() Config {
	var c Config
	c.Name = "cie-hub"
	c.DataDir = "./cie-hub"
	c.HTTP.Listen = "127.0.0.1:8080"
	c.Bus.Listen = "127.0.0.1:4222"
	c.Bus.TLS = BusTLSAuto
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
	if err := c.checkBusTLS(); err != nil {
		return err
	}
	if c.Bus.PublicURL == "" {
		c.Bus.PublicURL = "tls://" + c.Bus.Listen
		if c.Bus.TLS == BusTLSOff {
			c.Bus.PublicURL = "nats://" + c.Bus.Listen
		}
	} else if err := config.CheckURL("bus.public_url", c.Bus.PublicURL, "nats", "tls", "ws", "wss"); err != nil {
		return err
	} else if c.Bus.TLS == BusTLSOff && strings.HasPrefix(c.Bus.PublicURL, "tls://") {
		return config.Errorf("bus.public_url", "%q asks nodes for TLS, but bus.tls is off", c.Bus.PublicURL)
	}
	if err := c.checkOIDC(); err != nil {
		return err
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
	if err := c.checkAccess(); err != nil {
		return err
	}
	if err := c.checkSearch(); err != nil {
		return err
	}
	return c.Log.Check("log")
}

// checkBusTLS checks bus.tls and the fields that go with it; empty means
// auto.
func (c *Config) checkBusTLS() error {
	if c.Bus.TLS == "" {
		c.Bus.TLS = BusTLSAuto
	}
	if err := config.CheckOneOf("bus.tls", c.Bus.TLS, BusTLSAuto, BusTLSFiles, BusTLSOff); err != nil {
		return err
	}
	if c.Bus.TLS == BusTLSFiles {
		if c.Bus.TLSCert == "" {
			return config.Errorf("bus.tls_cert", "must be set with bus.tls: files")
		}
		if c.Bus.TLSKey == "" {
			return config.Errorf("bus.tls_key", "must be set with bus.tls: files")
		}
		return nil
	}
	for _, f := range []struct{ key, v string }{{"bus.tls_cert", c.Bus.TLSCert}, {"bus.tls_key", c.Bus.TLSKey}, {"bus.tls_ca", c.Bus.TLSCA}} {
		if f.v != "" {
			return config.Errorf(f.key, "is used only with bus.tls: files (bus.tls is %s)", c.Bus.TLS)
		}
	}
	return nil
}

// BusHosts returns the hosts the bus server's certificate must name: the
// host of bus.public_url and of bus.listen (unless it is unspecified, such
// as 0.0.0.0).
func (c Config) BusHosts() []string {
	var hosts []string
	for _, one := range strings.Split(c.Bus.PublicURL, ",") {
		if u, err := url.Parse(strings.TrimSpace(one)); err == nil {
			hosts = append(hosts, u.Hostname())
		}
	}
	if h, _, err := net.SplitHostPort(c.Bus.Listen); err == nil {
		hosts = append(hosts, h)
	}
	return bustls.Hosts(hosts...)
}

// checkAccess checks the access section and fills in its defaults.
func (c *Config) checkAccess() error {
	a := &c.Access
	switch {
	case a.VisaTTL == 0:
		a.VisaTTL = DefaultVisaTTL
	case a.VisaTTL < time.Second || a.VisaTTL > 365*24*time.Hour:
		return config.Errorf("access.visa_ttl", "%s: want 1s to 8760h", a.VisaTTL)
	}
	switch {
	case a.MaxAttachment == 0:
		a.MaxAttachment = DefaultMaxAttachment
	case a.MaxAttachment < 0 || a.MaxAttachment > 1<<30:
		return config.Errorf("access.max_attachment", "%d: want 1 to 1073741824 bytes", a.MaxAttachment)
	}
	_, err := c.webhooks()
	return err
}

// webhooks returns access.webhooks as node → URL.
func (c Config) webhooks() (map[string]string, error) {
	m := map[string]string{}
	for _, e := range c.Access.Webhooks {
		node, u, ok := strings.Cut(e, "=")
		node, u = strings.TrimSpace(node), strings.TrimSpace(u)
		if !ok || fed.ValidNodeName(node) != nil {
			return nil, config.Errorf("access.webhooks", "%q: want NODE=URL with a node name", e)
		}
		if err := config.CheckURL("access.webhooks", u, "http", "https"); err != nil {
			return nil, err
		}
		if _, dup := m[node]; dup {
			return nil, config.Errorf("access.webhooks", "node %s has two webhooks", node)
		}
		m[node] = u
	}
	return m, nil
}

// checkSearch checks the search section and fills in its defaults.
func (c *Config) checkSearch() error {
	s := &c.Search
	switch {
	case s.Timeout == 0:
		s.Timeout = DefaultSearchTimeout
	case s.Timeout < 100*time.Millisecond || s.Timeout > time.Minute:
		return config.Errorf("search.timeout", "%s: want 100ms to 60s", s.Timeout)
	}
	switch {
	case s.AtlasTTL == 0:
		s.AtlasTTL = DefaultAtlasTTL
	case s.AtlasTTL < time.Second || s.AtlasTTL > 24*time.Hour:
		return config.Errorf("search.atlas_ttl", "%s: want 1s to 24h", s.AtlasTTL)
	}
	return nil
}
