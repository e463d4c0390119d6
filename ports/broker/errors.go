package broker

import "fmt"

// InvalidMessageError is an inbound message that cannot become a command:
// broken JSON, a payload that breaks its contract, or an entry the broker
// adapter marked malformed. It is the sender's fault; retrying cannot fix
// it (the consumer wraps it in app.Permanent).
type InvalidMessageError struct {
	Topic  string
	Reason string
	// Err is the underlying error, e.g. *contracts.ViolationError; may be nil.
	Err error
}

func (e *InvalidMessageError) Error() string {
	return fmt.Sprintf("invalid %s message: %s", e.Topic, e.Reason)
}

func (e *InvalidMessageError) Unwrap() error { return e.Err }
