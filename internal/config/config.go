package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// ErrInvalid is wrapped by every error about a bad configuration value.
var ErrInvalid = errors.New("invalid configuration")

// FieldError names the configuration field that is wrong and why.
type FieldError struct {
	Key    string // dotted key, e.g. http.listen
	Source string // where the value came from: a file, an environment variable or a flag
	Msg    string
}

func (e *FieldError) Error() string {
	if e.Source != "" {
		return fmt.Sprintf("config field %s (from %s): %s", e.Key, e.Source, e.Msg)
	}
	return fmt.Sprintf("config field %s: %s", e.Key, e.Msg)
}

// Unwrap lets errors.Is(err, ErrInvalid) match.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// Errorf returns a FieldError for key.
func Errorf(key, format string, args ...any) error {
	return &FieldError{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Field describes one leaf of a configuration struct.
type Field struct {
	Key   string // dotted yaml path
	Env   string // CIE_ environment variable
	Flag  string // flag name without dashes
	Help  string // from the `help` struct tag
	value reflect.Value
}

// Fields lists the leaves of the struct cfg points to, in declaration order.
func Fields(cfg any) []Field {
	v := reflect.ValueOf(cfg)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	var out []Field
	walk(v.Elem(), "", &out)
	return out
}

func walk(v reflect.Value, prefix string, out *[]Field) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name := strings.Split(sf.Tag.Get("yaml"), ",")[0]
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(sf.Name)
		}
		key := name
		if prefix != "" {
			key = prefix + "." + name
		}
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct && fv.Type() != reflect.TypeOf(time.Duration(0)) {
			walk(fv, key, out)
			continue
		}
		*out = append(*out, Field{
			Key:   key,
			Env:   "CIE_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key)),
			Flag:  key,
			Help:  sf.Tag.Get("help"),
			value: fv,
		})
	}
}

// Set parses s into the field.
func (f Field) Set(s string) error {
	v := f.value
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		if v.Type() == reflect.TypeOf(time.Duration(0)) {
			d, err := time.ParseDuration(s)
			if err != nil {
				return fmt.Errorf("%q is not a duration such as 10s or 5m", s)
			}
			v.SetInt(int64(d))
			return nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not an integer", s)
		}
		v.SetInt(n)
	case reflect.Float64:
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		v.SetFloat(n)
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("unsupported field type %s", v.Type())
		}
		var parts []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		v.Set(reflect.ValueOf(parts))
	default:
		return fmt.Errorf("unsupported field type %s", v.Type())
	}
	return nil
}

// String formats the field's current value.
func (f Field) String() string {
	v := f.value
	if v.Type() == reflect.TypeOf(time.Duration(0)) {
		return time.Duration(v.Int()).String()
	}
	if v.Kind() == reflect.Slice {
		return strings.Join(v.Interface().([]string), ",")
	}
	return fmt.Sprint(v.Interface())
}

// Source is where values come from, in addition to the YAML file.
type Source struct {
	// Env looks up an environment variable; os.LookupEnv when nil.
	Env func(string) (string, bool)
	// Flags are flag values set on the command line, by dotted key.
	Flags map[string]string
}

// Load fills cfg (a pointer to a struct holding its defaults) from the YAML
// file at path (skipped when path is empty), then from CIE_* variables, then
// from flags. Unknown YAML keys and unparsable values are errors naming the
// field. Validation of the values is the caller's (see Validator).
func Load(path string, cfg any, src Source) error {
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("reading config: %w", err)
		}
		if err := decodeYAML(path, data, cfg); err != nil {
			return err
		}
	}
	env := src.Env
	if env == nil {
		env = os.LookupEnv
	}
	fields := Fields(cfg)
	for _, f := range fields {
		if s, ok := env(f.Env); ok {
			if err := f.Set(s); err != nil {
				return &FieldError{Key: f.Key, Source: "environment variable " + f.Env, Msg: err.Error()}
			}
		}
	}
	known := map[string]Field{}
	for _, f := range fields {
		known[f.Key] = f
	}
	keys := make([]string, 0, len(src.Flags))
	for k := range src.Flags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f, ok := known[k]
		if !ok {
			return &FieldError{Key: k, Source: "flag --" + k, Msg: "no such field"}
		}
		if err := f.Set(src.Flags[k]); err != nil {
			return &FieldError{Key: k, Source: "flag --" + k, Msg: err.Error()}
		}
	}
	if v, ok := cfg.(Validator); ok {
		if err := v.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// Validator is implemented by configurations that check their own values.
// Validate returns a FieldError (see Errorf) naming the first bad field.
type Validator interface{ Validate() error }

// decodeYAML applies the YAML document to cfg field by field, so that a
// value that does not parse is reported with its dotted key and line.
func decodeYAML(path string, data []byte, cfg any) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("config file %s: %w: %v", path, ErrInvalid, err)
	}
	if len(doc.Content) == 0 { // an empty file
		return nil
	}
	known := map[string]Field{}
	for _, f := range Fields(cfg) {
		known[f.Key] = f
	}
	return applyNode(path, doc.Content[0], "", known)
}

func applyNode(path string, n *yaml.Node, prefix string, known map[string]Field) error {
	src := func(n *yaml.Node) string { return fmt.Sprintf("%s line %d", path, n.Line) }
	if n.Kind != yaml.MappingNode {
		key := prefix
		if key == "" {
			key = "(top level)"
		}
		return &FieldError{Key: key, Source: src(n), Msg: "expected a mapping of keys to values"}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := k.Value
		if prefix != "" {
			key = prefix + "." + k.Value
		}
		f, isLeaf := known[key]
		switch {
		case isLeaf && v.Kind == yaml.ScalarNode:
			if v.Tag == "!!null" {
				continue
			}
			if err := f.Set(v.Value); err != nil {
				return &FieldError{Key: key, Source: src(v), Msg: err.Error()}
			}
		case isLeaf && v.Kind == yaml.SequenceNode:
			var parts []string
			for _, e := range v.Content {
				if e.Kind != yaml.ScalarNode {
					return &FieldError{Key: key, Source: src(e), Msg: "expected a list of plain values"}
				}
				parts = append(parts, e.Value)
			}
			if err := f.Set(strings.Join(parts, ",")); err != nil {
				return &FieldError{Key: key, Source: src(v), Msg: err.Error()}
			}
		case isLeaf:
			return &FieldError{Key: key, Source: src(v), Msg: "expected a single value"}
		case v.Kind == yaml.MappingNode && hasPrefix(known, key+"."):
			if err := applyNode(path, v, key, known); err != nil {
				return err
			}
		default:
			return &FieldError{Key: key, Source: src(k), Msg: "no such field"}
		}
	}
	return nil
}

func hasPrefix(known map[string]Field, p string) bool {
	for k := range known {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// Write saves cfg as YAML at path, atomically, readable only by its owner.
func Write(path string, cfg any) error {
	root := &yaml.Node{Kind: yaml.MappingNode}
	for _, f := range Fields(cfg) {
		parts := strings.Split(f.Key, ".")
		m := root
		for _, p := range parts[:len(parts)-1] {
			var next *yaml.Node
			for i := 0; i+1 < len(m.Content); i += 2 {
				if m.Content[i].Value == p {
					next = m.Content[i+1]
				}
			}
			if next == nil {
				next = &yaml.Node{Kind: yaml.MappingNode}
				m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: p}, next)
			}
			m = next
		}
		val := &yaml.Node{Kind: yaml.ScalarNode, Value: f.String(), Style: yaml.DoubleQuotedStyle}
		if f.value.Kind() == reflect.Bool || f.value.Kind() == reflect.Int || f.value.Kind() == reflect.Float64 {
			val.Style = 0
		}
		key := &yaml.Node{Kind: yaml.ScalarNode, Value: parts[len(parts)-1]}
		if f.Help != "" {
			key.HeadComment = f.Help
		}
		m.Content = append(m.Content, key, val)
	}
	data, err := yaml.Marshal(root)
	if err != nil {
		return fmt.Errorf("encoding config: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("writing config: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing config: %w", err)
	}
	return nil
}
