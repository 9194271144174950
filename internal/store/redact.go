package store

import (
	"errors"
	"net/url"
	"regexp"
	"strings"
)

const redacted = "xxxxx"

// passwordParam matches password-like key=value settings in libpq keyword/value strings
// and URL queries.
var passwordParam = regexp.MustCompile(`(?i)((?:^|[\s&?])(?:ssl)?password=)('[^']*'|[^\s&]*)`)

// Redact returns rawURL with any password replaced by "xxxxx", for logs and error
// messages. It handles URLs with a userinfo password ("postgres://u:secret@host/db"),
// password and sslpassword query parameters, and libpq keyword/value strings
// ("host=h password=secret"). Strings without a password come back unchanged.
func Redact(rawURL string) string {
	out := rawURL
	if i := strings.Index(out, "://"); i >= 0 {
		// The userinfo password: between the first ':' and the last '@' of the authority.
		authStart := i + 3
		authEnd := len(out)
		if j := strings.IndexAny(out[authStart:], "/?#"); j >= 0 {
			authEnd = authStart + j
		}
		// An '@' may also sit unescaped in the password itself; the last one ends userinfo.
		if at := strings.LastIndex(out[authStart:authEnd], "@"); at >= 0 {
			userinfo := out[authStart : authStart+at]
			if c := strings.Index(userinfo, ":"); c >= 0 {
				out = out[:authStart+c+1] + redacted + out[authStart+at:]
			}
		} else if at := strings.LastIndex(out[authStart:], "@"); at >= 0 && strings.Contains(out[authStart:authStart+at], ":") {
			// A password containing '/', '?' or '#' unescaped: mask up to the last '@'.
			userinfo := out[authStart : authStart+at]
			c := strings.Index(userinfo, ":")
			out = out[:authStart+c+1] + redacted + out[authStart+at:]
		}
	}
	return passwordParam.ReplaceAllString(out, "${1}"+redacted)
}

// secrets returns the password strings found in rawURL, raw and unescaped, so they can
// be scrubbed from driver error messages that quote the connection string.
func secrets(rawURL string) []string {
	var out []string
	add := func(s string) {
		if len(s) >= 3 && s != redacted { // shorter ones would mangle the message and protect nothing
			out = append(out, s)
			if u, err := url.PathUnescape(s); err == nil && u != s {
				out = append(out, u)
			}
			if u, err := url.QueryUnescape(s); err == nil && u != s {
				out = append(out, u)
			}
		}
	}
	if i := strings.Index(rawURL, "://"); i >= 0 {
		rest := rawURL[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if _, pw, ok := strings.Cut(rest[:at], ":"); ok {
				add(pw)
			}
		}
	}
	for _, m := range passwordParam.FindAllStringSubmatch(rawURL, -1) {
		add(strings.Trim(m[2], "'"))
	}
	return out
}

// scrubbedError keeps the error chain (errors.Is/As still work) while its message has
// the passwords of the URL removed.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// scrubError returns err with every password of rawURL masked in its message.
func scrubError(err error, rawURL string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	changed := false
	for _, s := range secrets(rawURL) {
		if strings.Contains(msg, s) {
			msg = strings.ReplaceAll(msg, s, redacted)
			changed = true
		}
	}
	if !changed {
		return err
	}
	var se *scrubbedError
	if errors.As(err, &se) {
		return &scrubbedError{msg: msg, err: se.err}
	}
	return &scrubbedError{msg: msg, err: err}
}
