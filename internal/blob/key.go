package blob

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	// maxKeyLen is S3's limit on a key, in bytes.
	maxKeyLen = 1024
	// maxSegmentLen is the usual file-name limit (NAME_MAX), in bytes. It
	// leaves no room for the temporary suffix of the file backend, so segments
	// are held to maxSegmentLen-tempSuffixRoom.
	maxSegmentLen  = 255
	tempSuffixRoom = 24 // "." + up to 16 hex digits + ".tmp", rounded up
	// attrsExt is fileblob's sidecar suffix; fileblob refuses keys ending in it.
	attrsExt = ".attrs"
)

// ValidKey reports whether key can name an object; the error wraps
// ErrInvalidKey. A key is a slash-separated relative path of valid UTF-8:
//
//   - not empty, at most 1024 bytes;
//   - not absolute (no leading "/"), no trailing "/", no empty segment ("a//b");
//   - no "." or ".." segment;
//   - no backslash and no control character (C0, DEL, C1);
//   - each segment at most 231 bytes (a file name, with room for the
//     temporary suffix of the file backend);
//   - not ending in ".attrs", and the last segment not shaped like a
//     temporary file of the file backend, "NAME.<hex digits>.tmp": both are
//     reserved by the file backend, and refused everywhere so that keys work
//     the same on every backend.
func ValidKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	}
	if len(key) > maxKeyLen {
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidKey, maxKeyLen)
	}
	if err := checkChars(key); err != nil {
		return err
	}
	if strings.HasPrefix(key, "/") {
		return fmt.Errorf("%w: %q is absolute", ErrInvalidKey, key)
	}
	if strings.HasSuffix(key, "/") {
		return fmt.Errorf("%w: %q ends with a slash", ErrInvalidKey, key)
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch {
		case seg == "":
			return fmt.Errorf("%w: %q has an empty segment", ErrInvalidKey, key)
		case seg == "." || seg == "..":
			return fmt.Errorf("%w: %q has a %q segment", ErrInvalidKey, key, seg)
		case len(seg) > maxSegmentLen-tempSuffixRoom:
			return fmt.Errorf("%w: %q has a segment longer than %d bytes", ErrInvalidKey, key, maxSegmentLen-tempSuffixRoom)
		}
	}
	if strings.HasSuffix(key, attrsExt) {
		return fmt.Errorf("%w: %q ends with the reserved suffix %q", ErrInvalidKey, key, attrsExt)
	}
	if isTempName(key) {
		return fmt.Errorf("%w: %q is shaped like a temporary file name (NAME.<hex>.tmp)", ErrInvalidKey, key)
	}
	return nil
}

// validPrefix checks a List prefix: "" or the start of a valid key. It may
// end with "/" but must not climb out of the store.
func validPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if len(prefix) > maxKeyLen {
		return fmt.Errorf("%w: prefix longer than %d bytes", ErrInvalidKey, maxKeyLen)
	}
	if err := checkChars(prefix); err != nil {
		return err
	}
	if strings.HasPrefix(prefix, "/") {
		return fmt.Errorf("%w: prefix %q is absolute", ErrInvalidKey, prefix)
	}
	segs := strings.Split(prefix, "/")
	for i, seg := range segs {
		last := i == len(segs)-1
		switch {
		case seg == "" && !last:
			return fmt.Errorf("%w: prefix %q has an empty segment", ErrInvalidKey, prefix)
		case seg == "..", seg == "." && !last:
			return fmt.Errorf("%w: prefix %q has a %q segment", ErrInvalidKey, prefix, seg)
		}
	}
	return nil
}

// checkChars rejects invalid UTF-8, backslashes and control characters.
func checkChars(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %q is not valid UTF-8", ErrInvalidKey, s)
	}
	for _, r := range s {
		if r == '\\' {
			return fmt.Errorf("%w: %q has a backslash", ErrInvalidKey, s)
		}
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: %q has a control character", ErrInvalidKey, s)
		}
	}
	return nil
}

// isTempName reports whether the last segment of key looks like a temporary
// file of fileblob with NoTempDir: "NAME.<hex>.tmp" with a non-empty NAME.
func isTempName(key string) bool {
	name := key[strings.LastIndexByte(key, '/')+1:]
	rest, ok := strings.CutSuffix(name, ".tmp")
	if !ok {
		return false
	}
	dot := strings.LastIndexByte(rest, '.')
	if dot <= 0 || dot == len(rest)-1 {
		return false
	}
	for _, c := range rest[dot+1:] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
