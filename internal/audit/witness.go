package audit

import (
	"bytes"
	"errors"
	"fmt"

	f_log "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// Witness countersigns the checkpoints of other logs (the nodes' logs, at
// the hub) after checking that they extend what it witnessed before.
type Witness struct {
	signer note.Signer
}

// NewWitness returns a Witness that countersigns with signer (the hub's key).
func NewWitness(signer note.Signer) *Witness {
	return &Witness{signer: signer}
}

// Cosign checks that next is a checkpoint signed by logVerifier (whose name
// is the log's origin), that it does not go back from prev (the last
// checkpoint this witness countersigned for the same log, nil if none), that
// an equal size has the same root and that proof is a valid RFC 6962
// consistency proof from prev to next. It then returns next with the
// witness's signature added after the signatures already on it.
//
// Errors wrap ErrBadSignature, ErrRollback or ErrInconsistent.
func (w *Witness) Cosign(next []byte, prev []byte, proof [][]byte, logVerifier note.Verifier) ([]byte, error) {
	if w == nil || w.signer == nil {
		return nil, errors.New("audit: cosign: witness has no signer")
	}
	if logVerifier == nil {
		return nil, errors.New("audit: cosign: no log verifier")
	}
	origin := logVerifier.Name()
	n, err := note.Open(next, note.VerifierList(logVerifier))
	if err != nil {
		return nil, fmt.Errorf("audit: cosign checkpoint of %s: %w: %v", origin, ErrBadSignature, err)
	}
	cp, err := parseCheckpointText(n.Text, origin)
	if err != nil {
		return nil, fmt.Errorf("audit: cosign checkpoint of %s: %w: %v", origin, ErrBadSignature, err)
	}
	if prev != nil {
		pn, err := note.Open(prev, note.VerifierList(logVerifier))
		if err != nil {
			return nil, fmt.Errorf("audit: cosign checkpoint of %s: previous witnessed checkpoint: %w: %v", origin, ErrBadSignature, err)
		}
		pcp, err := parseCheckpointText(pn.Text, origin)
		if err != nil {
			return nil, fmt.Errorf("audit: cosign checkpoint of %s: previous witnessed checkpoint: %w: %v", origin, ErrBadSignature, err)
		}
		if err := checkConsistent(pcp, cp, proof); err != nil {
			return nil, fmt.Errorf("audit: cosign checkpoint of %s: %w", origin, err)
		}
	}
	out, err := note.Sign(n, w.signer)
	if err != nil {
		return nil, fmt.Errorf("audit: cosign checkpoint of %s: signing: %w", origin, err)
	}
	return out, nil
}

// checkConsistent checks that next extends prev, using proof.
func checkConsistent(prev, next *f_log.Checkpoint, p [][]byte) error {
	switch {
	case next.Size < prev.Size:
		return fmt.Errorf("%w: size %d after %d was witnessed", ErrRollback, next.Size, prev.Size)
	case next.Size == prev.Size:
		if !bytes.Equal(next.Hash, prev.Hash) {
			return fmt.Errorf("%w: two different roots for size %d", ErrInconsistent, next.Size)
		}
		return nil
	case prev.Size == 0:
		return nil
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, prev.Size, next.Size, p, prev.Hash, next.Hash); err != nil {
		return fmt.Errorf("%w: from size %d to %d: %v", ErrInconsistent, prev.Size, next.Size, err)
	}
	return nil
}

// parseCheckpointText parses the text of a checkpoint note of origin.
func parseCheckpointText(text, origin string) (*f_log.Checkpoint, error) {
	cp := &f_log.Checkpoint{}
	if _, err := cp.Unmarshal([]byte(text)); err != nil {
		return nil, err
	}
	if cp.Origin != origin {
		return nil, fmt.Errorf("checkpoint of %q, not %q", cp.Origin, origin)
	}
	if len(cp.Hash) != rfc6962.DefaultHasher.Size() {
		return nil, fmt.Errorf("root hash of %d bytes", len(cp.Hash))
	}
	return cp, nil
}
