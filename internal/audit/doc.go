// Package audit is cie's append-only audit trail: a Merkle log kept by the hub
// and by every node, which neither side can rewrite alone.
//
// # Storage
//
// Each log is a tessera log (github.com/transparency-dev/tessera) on POSIX
// files, laid out as C2SP tlog-tiles: entry bundles under tile/entries/, hash
// tiles under tile/<level>/, and the latest signed checkpoint in the file
// "checkpoint". The tree is an RFC 6962 Merkle tree (SHA-256). Checkpoints are
// C2SP tlog-checkpoint notes (origin, size, base64 root hash) signed with the
// role's Ed25519 key in the golang.org/x/mod/sumdb/note format; the key name
// is the log's origin. Checkpoints countersigned by the hub are kept beside
// the log in witnessed/<size>.
//
// # Entry format
//
// One entry is one event, stored as a single compact JSON object (the bytes
// that are hashed, at most 65535 of them):
//
//	{"index":7,"time":"2025-01-02T03:04:05.123456789Z","type":"login","actor":"alice",
//	 "subject":"node-a","fields":{"ip":"10.0.0.1"},"prev":"<base64 SHA-256>"}
//
// "index" is the entry's own position in the log (0-based) and "prev" is the
// RFC 6962 leaf hash, SHA-256(0x00 || bytes), of the entry before it (absent
// for entry 0). The Merkle tree already commits to every entry; the embedded
// index and hash chain make it possible to say WHICH entry was changed,
// removed or moved, not just that the root differs. Append serialises writers
// so that indices and the chain are always consistent. AppendBatch adds several
// events in one call, written together: an entry costs several file syncs on its
// own, a fraction of that in a batch (the node's search events come this way).
//
// # Witnessing
//
// A node periodically sends its latest checkpoint to the hub with a
// consistency proof from the last checkpoint the hub witnessed for it. The
// hub's Witness checks the node's signature, that the log did not shrink, and
// that the new tree extends the old one (RFC 6962 consistency proof), and then
// adds its own Ed25519 note signature to the checkpoint (a plain note
// signature over the checkpoint text, not a timestamped tlog-cosignature).
// The node stores the result with Log.SaveWitnessed; the hub keeps it too.
// Because the hub keeps what it witnessed, a node that rebuilds its log, even
// signing it with its own key, is caught by the next witnessing and by Verify.
//
// # Verification
//
// Verify (the engine of `cie audit verify`) reads a log directory without
// opening it for writing and:
//
//  1. checks the signature of the log's checkpoint, and of every witnessed
//     checkpoint (the log's signature, and the hub's when its key is given);
//  2. reads every entry from the entry bundles, checks that each parses, that
//     its embedded index equals its position and that its "prev" equals the
//     leaf hash of the entry before it;
//  3. recomputes the RFC 6962 root over the first N entries for the log's
//     checkpoint and for every witnessed checkpoint of size N, and compares;
//  4. when a root differs, compares each entry's leaf hash with the leaf
//     hashes that the log recorded in its level-0 hash tiles, once those tiles
//     are themselves shown authentic by a signed root.
//
// It reports the first bad entry: the first entry that is missing, does not
// parse, has the wrong index or prev, or whose hash differs from what the log
// signed. When the only evidence is a witnessed root (a log rewritten and
// re-signed from scratch), it names the range between the last witnessed
// checkpoint that still matches and the first one that does not, and reports
// the first entry of that range.
package audit
