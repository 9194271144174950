package query

import (
	"errors"
	"fmt"
)

// The kinds of errors Parse and Check return, inside an *Error. Test with
// errors.Is. Every one of them is the client's fault: an HTTP 400.
var (
	ErrTooLarge       = errors.New("query too large")
	ErrSyntax         = errors.New("query is not JSON")
	ErrMalformed      = errors.New("malformed query")
	ErrTooDeep        = errors.New("query nested too deep")
	ErrTooManyLeaves  = errors.New("query has too many conditions")
	ErrUnknownKey     = errors.New("unknown key")
	ErrUnknownCode    = errors.New("unknown code")
	ErrUnknownType    = errors.New("unknown operator")
	ErrOperator       = errors.New("operator not taken by the key")
	ErrValue          = errors.New("wrong value")
	ErrUnsupportedKey = errors.New("unsupported key")
)

// Error is a query error: its kind (one of the Err… sentinels), where it is
// in the input as a JSON Pointer (RFC 6901, "/ast/children/1/value"; empty
// for the whole input), and what is wrong.
type Error struct {
	Err    error
	Path   string
	Detail string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("%v: %s", e.Err, e.Detail)
	}
	return fmt.Sprintf("%v at %s: %s", e.Err, e.Path, e.Detail)
}

func (e *Error) Unwrap() error { return e.Err }

func errorf(kind error, path, format string, args ...any) *Error {
	return &Error{Err: kind, Path: path, Detail: fmt.Sprintf(format, args...)}
}

func joinErrors(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return errors.Join(errs...)
}
