package audit

import "errors"

var (
	// ErrBadSignature means a checkpoint is not signed by the expected key
	// (or names another log).
	ErrBadSignature = errors.New("audit: bad checkpoint signature")
	// ErrInconsistent means a checkpoint does not extend the one witnessed
	// before it: the log has been forked or rewritten.
	ErrInconsistent = errors.New("audit: checkpoint inconsistent with the witnessed one")
	// ErrRollback means a checkpoint is smaller than one already witnessed.
	ErrRollback = errors.New("audit: checkpoint rolls the log back")
	// ErrTampered means a log on disk does not match its signed or witnessed
	// checkpoints; the wrapped message names the first bad entry.
	ErrTampered = errors.New("audit: log tampered")
	// ErrClosed is returned by the methods of a closed Log.
	ErrClosed = errors.New("audit: log closed")
)
