package config

import (
	"net"
	"net/url"
	"strconv"
)

// CheckHostPort reports a FieldError unless s is host:port with a valid port.
func CheckHostPort(key, s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return Errorf(key, "%q is not host:port (e.g. 127.0.0.1:8080)", s)
	}
	_ = host
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return Errorf(key, "%q has no valid port number", s)
	}
	return nil
}

// CheckURL reports a FieldError unless s is an absolute URL with one of the
// given schemes.
func CheckURL(key, s string, schemes ...string) error {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return Errorf(key, "%q is not an absolute URL", s)
	}
	for _, sc := range schemes {
		if u.Scheme == sc {
			return nil
		}
	}
	return Errorf(key, "%q: scheme must be one of %v", s, schemes)
}

// CheckOneOf reports a FieldError unless s is one of allowed.
func CheckOneOf(key, s string, allowed ...string) error {
	for _, a := range allowed {
		if s == a {
			return nil
		}
	}
	return Errorf(key, "%q must be one of %v", s, allowed)
}
