package messagebus

import (
	"errors"
	"fmt"

	"github.com/ThreeDotsLabs/watermill/components/cqrs"

	"allocation/domain"
)

// MissingCommandHandlerError is returned at start-up for a command without a handler.
type MissingCommandHandlerError struct{ Command string }

func (e MissingCommandHandlerError) Error() string {
	return fmt.Sprintf("command %s has no handler: every command needs exactly one", e.Command)
}

// DuplicateCommandHandlerError is returned at start-up for a command with several handlers.
type DuplicateCommandHandlerError struct {
	Command  string
	Handlers []string
}

func (e DuplicateCommandHandlerError) Error() string {
	return fmt.Sprintf("command %s has %d handlers %v: every command needs exactly one", e.Command, len(e.Handlers), e.Handlers)
}

func checkOneHandlerPerCommand(handlers []cqrs.CommandHandler) error {
	marshaler := Marshaler()
	byCommand := map[string][]string{}
	for _, h := range handlers {
		name := marshaler.Name(h.NewCommand())
		byCommand[name] = append(byCommand[name], h.HandlerName())
	}
	var errs []error
	for _, cmd := range knownCommandNames() {
		switch n := len(byCommand[cmd]); {
		case n == 0:
			errs = append(errs, MissingCommandHandlerError{Command: cmd})
		case n > 1:
			errs = append(errs, DuplicateCommandHandlerError{Command: cmd, Handlers: byCommand[cmd]})
		}
	}
	return errors.Join(errs...)
}

// knownCommandNames names every command the domain defines.
func knownCommandNames() []string {
	m := Marshaler()
	var names []string
	for _, c := range domain.Commands() {
		names = append(names, m.Name(c))
	}
	return names
}
