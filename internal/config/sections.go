package config

// HTTP is the configuration of a role's HTTP listener.
type HTTP struct {
	Listen    string `yaml:"listen" help:"host:port of the web pages and the API"`
	PublicURL string `yaml:"public_url" help:"URL users reach the pages at (default http://LISTEN)"`
}

// Check validates the section (named key in errors) and fills PublicURL.
func (h *HTTP) Check(key string) error {
	if err := CheckHostPort(key+".listen", h.Listen); err != nil {
		return err
	}
	if h.PublicURL == "" {
		h.PublicURL = "http://" + h.Listen
		return nil
	}
	return CheckURL(key+".public_url", h.PublicURL, "http", "https")
}

// Log is the configuration of a role's log.
type Log struct {
	Level  string `yaml:"level" help:"debug, info, warn or error"`
	Format string `yaml:"format" help:"text or json"`
}

// DefaultLog logs at info level as text.
var DefaultLog = Log{Level: "info", Format: "text"}

// Check validates the section (named key in errors).
func (l Log) Check(key string) error {
	if err := CheckOneOf(key+".level", l.Level, "debug", "info", "warn", "error"); err != nil {
		return err
	}
	return CheckOneOf(key+".format", l.Format, "text", "json")
}
