// Package config loads the YAML configuration of a cie role (hub or node).
//
// A configuration is a Go struct with yaml tags. Every leaf field has a dotted
// key (http.listen), an environment variable (CIE_HTTP_LISTEN) and a command
// line flag (--http.listen); the precedence is flag, then environment, then
// the YAML file, then the default. Load rejects unknown YAML keys and invalid
// values with an error that names the field and the problem.
package config
