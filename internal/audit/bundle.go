package audit

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/transparency-dev/tessera/api/layout"
)

// splitBundle splits a tlog-tiles entry bundle (entries, each prefixed by
// its 16-bit big-endian length) into entries. On malformed data it returns
// the entries before the damage together with an error.
func splitBundle(raw []byte) ([][]byte, error) {
	var out [][]byte
	for i := 0; i < len(raw); {
		if i+2 > len(raw) {
			return out, fmt.Errorf("dangling byte at offset %d", i)
		}
		n := int(binary.BigEndian.Uint16(raw[i:]))
		if i+2+n > len(raw) {
			return out, fmt.Errorf("entry at offset %d claims %d bytes, only %d left", i, n, len(raw)-i-2)
		}
		out = append(out, raw[i+2:i+2+n])
		i += 2 + n
	}
	return out, nil
}

// joinBundle is the inverse of splitBundle.
func joinBundle(entries [][]byte) []byte {
	var out []byte
	for _, e := range entries {
		out = binary.BigEndian.AppendUint16(out, uint16(len(e)))
		out = append(out, e...)
	}
	return out
}

// readResource reads the tile or bundle at path(p) for partial size p,
// falling back to the full resource (p = 0) when the partial one has been
// removed as the tree grew. partial reports whether the partial file was read.
func readResource(dir string, p uint8, path func(uint8) string) (data []byte, partial bool, err error) {
	if p > 0 {
		data, err = os.ReadFile(filepath.Join(dir, path(p)))
		if err == nil {
			return data, true, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, false, err
		}
	}
	data, err = os.ReadFile(filepath.Join(dir, path(0)))
	return data, false, err
}

// readBundle reads entry bundle idx of a log of the given size.
func readBundle(dir string, idx, size uint64) (entries [][]byte, partial bool, err error) {
	p := layout.PartialTileSize(0, idx, size)
	raw, partial, err := readResource(dir, p, func(p uint8) string { return layout.EntriesPath(idx, p) })
	if err != nil {
		return nil, false, fmt.Errorf("reading entry bundle %d: %w", idx, err)
	}
	entries, err = splitBundle(raw)
	if err != nil {
		return entries, partial, fmt.Errorf("entry bundle %d: %w", idx, err)
	}
	return entries, partial, nil
}

// readLeafTile reads the level-0 hash tile idx of a log of the given size.
func readLeafTile(dir string, idx, size uint64) ([][]byte, error) {
	p := layout.PartialTileSize(0, idx, size)
	raw, _, err := readResource(dir, p, func(p uint8) string { return layout.TilePath(0, idx, p) })
	if err != nil {
		return nil, fmt.Errorf("reading hash tile 0/%d: %w", idx, err)
	}
	if len(raw)%32 != 0 {
		return nil, fmt.Errorf("hash tile 0/%d: %d bytes is not a whole number of hashes", idx, len(raw))
	}
	out := make([][]byte, 0, len(raw)/32)
	for i := 0; i < len(raw); i += 32 {
		out = append(out, raw[i:i+32])
	}
	return out, nil
}

// readTreeSize returns the size of the integrated tree recorded in tessera's
// private state, or 0 if it cannot be read.
func readTreeSize(dir string) uint64 {
	b, err := os.ReadFile(filepath.Join(dir, ".state", "treeState"))
	if err != nil {
		return 0
	}
	var st struct {
		Size uint64 `json:"size"`
	}
	if json.Unmarshal(b, &st) != nil {
		return 0
	}
	return st.Size
}
