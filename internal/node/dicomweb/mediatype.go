package dicomweb

import "strings"

// parseMediaType reads a media type with parameters as clients of DICOMweb write it.
// It is more lenient than mime.ParseMediaType, which refuses the unquoted slash of
// type=application/dicom that common clients (cornerstone, dicomweb-client) send: the
// type and parameter names are lower-cased, values unquoted when quoted.
func parseMediaType(s string) (string, map[string]string) {
	parts := strings.Split(s, ";")
	mt := strings.ToLower(strings.TrimSpace(parts[0]))
	params := map[string]string{}
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		v = strings.TrimSpace(v)
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		params[k] = v
	}
	return mt, params
}

// acceptList splits an Accept header into its media ranges (commas inside quoted
// parameter values are kept).
func acceptList(h string) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(h); i++ {
		switch h[i] {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				out = append(out, h[start:i])
				start = i + 1
			}
		}
	}
	return append(out, h[start:])
}
