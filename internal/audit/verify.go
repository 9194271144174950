package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	f_log "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// VerifyOptions say which log to verify and whom to trust.
type VerifyOptions struct {
	// Dir is the log's directory.
	Dir string
	// LogVerifier is the log's public key; its name is the log's origin.
	LogVerifier note.Verifier
	// WitnessVerifier is the hub's public key. When set, every witnessed
	// checkpoint must carry a valid hub cosignature. May be nil.
	WitnessVerifier note.Verifier
	// Witnessed are further witnessed checkpoints, e.g. those the hub kept
	// for this log. Those in Dir/witnessed are read too.
	Witnessed [][]byte
}

// Report is the outcome of Verify.
type Report struct {
	// Size is the number of entries read and checked.
	Size uint64
	// Checkpoints is the number of signed checkpoints (the log's own and the
	// witnessed ones) whose root was compared with the entries.
	Checkpoints int
	// Witnessed is how many of those were witnessed checkpoints.
	Witnessed int
	// FirstBad is the index of the first bad entry, -1 if none was found.
	FirstBad int64
	// Problem says what is wrong ("" if nothing).
	Problem string
}

// signedCP is a checkpoint whose signature has been checked.
type signedCP struct {
	size      uint64
	root      []byte
	witnessed bool
	source    string
	match     bool
}

// problem is one finding about an entry.
type problem struct {
	index uint64
	msg   string
}

type problems struct{ first *problem }

func (p *problems) add(index uint64, format string, args ...any) {
	if p.first == nil || index < p.first.index {
		p.first = &problem{index: index, msg: fmt.Sprintf(format, args...)}
	}
}

// Verify checks the log in o.Dir against its signed checkpoint and its
// witnessed checkpoints, as described in the package documentation. If
// anything does not verify, it returns an error wrapping ErrTampered (and
// ErrBadSignature for a bad signature) that names the first bad entry, and
// a Report with FirstBad and Problem set.
func Verify(ctx context.Context, o VerifyOptions) (Report, error) {
	rep := Report{FirstBad: -1}
	if o.Dir == "" || o.LogVerifier == nil {
		return rep, errors.New("audit: verify: a directory and the log's key are required")
	}
	origin := o.LogVerifier.Name()
	fail := func(err error, format string, args ...any) (Report, error) {
		rep.Problem = fmt.Sprintf(format, args...)
		return rep, fmt.Errorf("%w: %w: %s", ErrTampered, err, rep.Problem)
	}

	// 1. Signatures.
	raw, err := os.ReadFile(filepath.Join(o.Dir, "checkpoint"))
	if err != nil {
		return rep, fmt.Errorf("audit: verify %s: reading checkpoint: %w", o.Dir, err)
	}
	cp, _, _, err := f_log.ParseCheckpoint(raw, origin, o.LogVerifier)
	if err != nil {
		return fail(ErrBadSignature, "the log's checkpoint does not verify with the key of %s: %v", origin, err)
	}
	cps := []*signedCP{{size: cp.Size, root: cp.Hash, source: "log's own checkpoint"}}
	type rawCP struct {
		source string
		data   []byte
	}
	var witnessed []rawCP
	sizes, err := witnessedSizes(o.Dir)
	if err != nil {
		return rep, fmt.Errorf("audit: verify %s: %w", o.Dir, err)
	}
	for _, s := range sizes {
		name := filepath.Join(witnessedDir, strconv.FormatUint(s, 10))
		b, err := os.ReadFile(filepath.Join(o.Dir, name))
		if err != nil {
			return rep, fmt.Errorf("audit: verify %s: %w", o.Dir, err)
		}
		witnessed = append(witnessed, rawCP{"witnessed checkpoint " + name, b})
	}
	for i, b := range o.Witnessed {
		witnessed = append(witnessed, rawCP{fmt.Sprintf("witnessed checkpoint #%d given", i+1), b})
	}
	seen := map[string]bool{}
	for _, w := range witnessed {
		c, err := parseWitnessed(w.data, origin, o.LogVerifier, o.WitnessVerifier)
		if err != nil {
			return fail(ErrBadSignature, "%s: %v", w.source, err)
		}
		key := fmt.Sprintf("%d/%x", c.Size, c.Hash)
		if seen[key] {
			continue
		}
		seen[key] = true
		cps = append(cps, &signedCP{size: c.Size, root: c.Hash, witnessed: true, source: w.source})
	}
	slices.SortStableFunc(cps, func(a, b *signedCP) int {
		switch {
		case a.size < b.size:
			return -1
		case a.size > b.size:
			return 1
		}
		return 0
	})

	// 2. Entries: parse, index, hash chain.
	// The log's own size; witnessed checkpoints beyond it mean entries are
	// missing (a rollback).
	n := max(cp.Size, readTreeSize(o.Dir))
	var probs problems
	hashes := make([][]byte, 0, n)
	var prevBreaks []uint64
	for b := uint64(0); b*256 < n; b++ {
		if err := ctx.Err(); err != nil {
			return rep, fmt.Errorf("audit: verify: %w", err)
		}
		want := min(256, n-b*256)
		entries, partial, err := readBundle(o.Dir, b, n)
		for i, raw := range entries[:min(uint64(len(entries)), want)] {
			idx := b*256 + uint64(i)
			h := leafHash(raw)
			hashes = append(hashes, h)
			e, perr := parseEntry(raw)
			switch {
			case perr != nil:
				probs.add(idx, "entry %d does not parse: %v", idx, perr)
				continue
			case e.Index != idx:
				probs.add(idx, "entry %d holds index %d: entries were deleted, inserted or moved", idx, e.Index)
			}
			if idx == 0 && len(e.Prev) != 0 {
				probs.add(0, "entry 0 has a prev hash")
			}
			if idx > 0 && !bytes.Equal(e.Prev, hashes[idx-1]) {
				prevBreaks = append(prevBreaks, idx)
			}
		}
		if got := uint64(len(entries)); got < want {
			idx := b*256 + got
			if err != nil {
				probs.add(idx, "entry %d is missing (%v); the log's checkpoints commit to %d entries", idx, err, n)
			} else {
				probs.add(idx, "entry %d is missing: entry bundle %d ends after %d entries; the log's checkpoints commit to %d entries", idx, b, got, n)
			}
			break
		}
		if partial && uint64(len(entries)) > want {
			probs.add(n, "entry bundle %d holds %d entries, more than the log's %d: entries were added", b, len(entries), n)
		} else if err != nil && partial {
			probs.add(n, "entry bundle %d is damaged after its last entry: %v", b, err)
		}
	}
	rep.Size = uint64(len(hashes))
	if last := cps[len(cps)-1]; last.size > rep.Size {
		probs.add(rep.Size, "entry %d is missing: the log has %d entries, the %s has size %d", rep.Size, rep.Size, last.source, last.size)
	}

	// 3. Roots.
	want := make([]uint64, 0, len(cps))
	for _, c := range cps {
		want = append(want, c.size)
	}
	roots := rootsAt(hashes, want)
	allMatch := true
	for _, c := range cps {
		r, ok := roots[c.size]
		c.match = ok && bytes.Equal(r, c.root)
		allMatch = allMatch && c.match
		rep.Checkpoints++
		if c.witnessed {
			rep.Witnessed++
		}
	}
	if allMatch && probs.first == nil && len(prevBreaks) == 0 {
		return rep, nil
	}

	// 4. Pinpoint: compare with the leaf hashes the log recorded in its
	// hash tiles, as far as a signed root shows those to be authentic.
	var authN uint64
	var authBy string
	stored := readStoredLeaves(o.Dir, cps[len(cps)-1].size)
	sroots := rootsAt(stored, want)
	for _, c := range cps {
		if r, ok := sroots[c.size]; ok && bytes.Equal(r, c.root) && c.size >= authN {
			authN, authBy = c.size, c.source
		}
	}
	for i := uint64(0); i < min(authN, uint64(len(hashes))); i++ {
		if !bytes.Equal(hashes[i], stored[i]) {
			probs.add(i, "entry %d has been changed: its hash differs from the one the log recorded and signed (%s, size %d)", i, authBy, authN)
			break
		}
	}
	breaks := map[uint64]bool{}
	for _, j := range prevBreaks {
		breaks[j] = true
	}
	for _, j := range prevBreaks {
		switch {
		case j < authN:
			probs.add(j, "entry %d: its prev is not the hash of entry %d", j, j-1)
		case breaks[j+1]:
			probs.add(j, "entry %d has been changed: its prev is not the hash of entry %d, and entry %d's prev is not its hash", j, j-1, j+1)
		default:
			probs.add(j-1, "entry %d has been changed: its hash is not the prev recorded in entry %d", j-1, j)
		}
	}

	// The first checkpoint that does not match bounds where the damage starts.
	var bad *signedCP
	var good uint64
	for _, c := range cps {
		if !c.match {
			bad = c
			break
		}
		good = c.size
	}
	first := probs.first
	if bad != nil && (first == nil || first.index >= bad.size) {
		var msg string
		if bad.size == good+1 {
			msg = fmt.Sprintf("entry %d has been changed: the root over entries 0 to %d differs from the %s of size %d, while the checkpoint of size %d matches",
				good, good, bad.source, bad.size, good)
		} else {
			matches := "no smaller checkpoint to narrow it down"
			if good > 0 {
				matches = fmt.Sprintf("the checkpoint of size %d matches", good)
			}
			msg = fmt.Sprintf("entries %d to %d differ from what was signed: the root over entries 0 to %d differs from the %s of size %d (%s); the log was changed or rewritten, its first changed entry is one of entries %d to %d",
				good, bad.size-1, bad.size-1, bad.source, bad.size, matches, good, bad.size-1)
		}
		first = &problem{index: good, msg: msg}
	}
	if first == nil {
		// Unreachable: a mismatch always yields a problem.
		return rep, nil
	}
	rep.FirstBad = int64(first.index)
	rep.Problem = first.msg
	return rep, fmt.Errorf("%w: entry %d: %s", ErrTampered, first.index, first.msg)
}

// parseWitnessed checks a witnessed checkpoint's signatures and parses it.
func parseWitnessed(raw []byte, origin string, logV, witV note.Verifier) (*f_log.Checkpoint, error) {
	vs := []note.Verifier{logV}
	if witV != nil {
		vs = append(vs, witV)
	}
	n, err := note.Open(raw, note.VerifierList(vs...))
	if err != nil {
		return nil, fmt.Errorf("signature does not verify: %v", err)
	}
	var byLog, byWitness bool
	for _, s := range n.Sigs {
		if s.Name == logV.Name() && s.Hash == logV.KeyHash() {
			byLog = true
		}
		if witV != nil && s.Name == witV.Name() && s.Hash == witV.KeyHash() {
			byWitness = true
		}
	}
	if !byLog {
		return nil, fmt.Errorf("not signed by the log %s", origin)
	}
	if witV != nil && !byWitness {
		return nil, fmt.Errorf("no valid cosignature by the witness %s", witV.Name())
	}
	cp, err := parseCheckpointText(n.Text, origin)
	if err != nil {
		return nil, err
	}
	return cp, nil
}

// rootsAt returns the RFC 6962 roots of the first s leaves, for each s in
// sizes that is at most len(leaves).
func rootsAt(leaves [][]byte, sizes []uint64) map[uint64][]byte {
	out := make(map[uint64][]byte, len(sizes))
	want := map[uint64]bool{}
	for _, s := range sizes {
		want[s] = true
	}
	if want[0] {
		out[0] = rfc6962.DefaultHasher.EmptyRoot()
	}
	rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	r := rf.NewEmptyRange(0)
	for i, h := range leaves {
		if err := r.Append(h, nil); err != nil {
			return out
		}
		if s := uint64(i) + 1; want[s] {
			root, err := r.GetRootHash(nil)
			if err != nil {
				return out
			}
			out[s] = root
		}
	}
	return out
}

// readStoredLeaves reads up to size leaf hashes from the level-0 hash tiles,
// stopping at the first that cannot be read.
func readStoredLeaves(dir string, size uint64) [][]byte {
	out := make([][]byte, 0, size)
	for t := uint64(0); t*256 < size; t++ {
		want := min(256, size-t*256)
		tile, err := readLeafTile(dir, t, size)
		if err != nil {
			return out
		}
		if uint64(len(tile)) < want {
			return append(out, tile...)
		}
		out = append(out, tile[:want]...)
	}
	return out
}
