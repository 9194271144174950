package audit

import (
	"fmt"

	"golang.org/x/mod/sumdb/note"
)

// Checkpoint is the content of a signed checkpoint: the log's origin, its
// size and the RFC 6962 root hash of its first Size entries.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   []byte
}

// ParseCheckpoint opens a signed checkpoint note, requiring a valid signature
// by v (other signatures, such as a witness's, may be present), and returns
// its content. The origin must be v's key name.
func ParseCheckpoint(signed []byte, v note.Verifier) (Checkpoint, error) {
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint not signed by %s: %v", ErrBadSignature, v.Name(), err)
	}
	cp, err := parseCheckpointText(n.Text, v.Name())
	if err != nil {
		return Checkpoint{}, fmt.Errorf("parsing checkpoint: %w", err)
	}
	return Checkpoint{Origin: cp.Origin, Size: cp.Size, Root: cp.Hash}, nil
}

// VerifierFromSigner returns the verifier of an Ed25519 signer key.
func VerifierFromSigner(skey string) (note.Verifier, error) {
	vkey, err := VerifierKey(skey)
	if err != nil {
		return nil, err
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("audit: verifier key: %w", err)
	}
	return v, nil
}

// ParseWitnessed opens a checkpoint that a witness cosigned: it must carry
// valid signatures of both the log (logV) and the witness (witV).
func ParseWitnessed(signed []byte, logV, witV note.Verifier) (Checkpoint, error) {
	cp, err := parseWitnessed(signed, logV.Name(), logV, witV)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: witnessed checkpoint: %v", ErrBadSignature, err)
	}
	return Checkpoint{Origin: cp.Origin, Size: cp.Size, Root: cp.Hash}, nil
}
