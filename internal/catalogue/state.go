package catalogue

import (
	"errors"
	"fmt"
)

// State is where a dataset is in its life cycle.
type State string

// The life-cycle states. A draft is visible only at its node; a published
// dataset is in the public catalogue; an invalidated one is withdrawn from it
// (its metadata stays resolvable, marked withdrawn) until it is reactivated.
const (
	StateDraft       State = "draft"
	StatePublished   State = "published"
	StateInvalidated State = "invalidated"
)

// Valid reports whether s is one of the state constants.
func (s State) Valid() bool {
	return s == StateDraft || s == StatePublished || s == StateInvalidated
}

// Action is a life-cycle move.
type Action string

// The life-cycle moves.
const (
	ActionPublish    Action = "publish"    // draft → published
	ActionInvalidate Action = "invalidate" // published → invalidated
	ActionReactivate Action = "reactivate" // invalidated → published
)

// ErrTransition is matched (errors.Is) by every refused life-cycle move.
var ErrTransition = errors.New("catalogue: illegal life-cycle move")

// Transition returns the state that action a leads to from state from, or an
// error wrapping ErrTransition if the move is not allowed. The moves are
// draft→published (publish), published→invalidated (invalidate) and
// invalidated→published (reactivate); there is no way back to draft. A change
// of content is not a state move: see Dataset.SetContent.
func Transition(from State, a Action) (State, error) {
	switch {
	case from == StateDraft && a == ActionPublish:
		return StatePublished, nil
	case from == StatePublished && a == ActionInvalidate:
		return StateInvalidated, nil
	case from == StateInvalidated && a == ActionReactivate:
		return StatePublished, nil
	}
	if !from.Valid() {
		return from, fmt.Errorf("%w: unknown state %q", ErrTransition, from)
	}
	switch a {
	case ActionPublish, ActionInvalidate, ActionReactivate:
		return from, fmt.Errorf("%w: cannot %s a %s dataset", ErrTransition, a, from)
	}
	return from, fmt.Errorf("%w: unknown action %q", ErrTransition, a)
}
