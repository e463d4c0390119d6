package messagebus_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/components/cqrs"

	"allocation/adapters/messagebus"
	"allocation/adapters/pubsub"
	"allocation/app"
	"allocation/domain"
)

func newBus(t *testing.T) *messagebus.MessageBus {
	ps := pubsub.NewGoChannelPubSub(watermill.NopLogger{})
	t.Cleanup(func() { _ = ps.Close() })
	bus, err := messagebus.NewMessageBus(messagebus.MessageBusConfig{PubSub: ps})
	if err != nil {
		t.Fatal(err)
	}
	return bus
}

func noop[T any](context.Context, *T) error { return nil }

func TestStartUpFailsWhenACommandHasNoHandler(t *testing.T) {
	err := newBus(t).AddHandlers([]cqrs.CommandHandler{
		cqrs.NewCommandHandler("A", noop[domain.Allocate]),
		cqrs.NewCommandHandler("B", noop[domain.CreateBatch]),
	}, nil)
	var missing messagebus.MissingCommandHandlerError
	if !errors.As(err, &missing) || missing.Command != "ChangeBatchQuantity" {
		t.Fatalf("err = %v, want MissingCommandHandlerError for ChangeBatchQuantity", err)
	}
}

func TestStartUpFailsWhenACommandHasTwoHandlers(t *testing.T) {
	err := newBus(t).AddHandlers([]cqrs.CommandHandler{
		cqrs.NewCommandHandler("A", noop[domain.Allocate]),
		cqrs.NewCommandHandler("A2", noop[domain.Allocate]),
		cqrs.NewCommandHandler("B", noop[domain.CreateBatch]),
		cqrs.NewCommandHandler("C", noop[domain.ChangeBatchQuantity]),
	}, nil)
	var duplicate messagebus.DuplicateCommandHandlerError
	if !errors.As(err, &duplicate) || duplicate.Command != "Allocate" || len(duplicate.Handlers) != 2 {
		t.Fatalf("err = %v, want DuplicateCommandHandlerError for Allocate", err)
	}
}

func TestApplicationHandlersRegister(t *testing.T) {
	bus := newBus(t)
	if _, err := app.NewApplication(app.Dependencies{}); err == nil {
		t.Fatal("NewApplication accepted missing dependencies")
	}
	application, err := app.NewApplication(app.Dependencies{
		UnitOfWork: dummyUoW{}, View: dummyView{}, Notifier: &fakeNotifier{}, HandledEvents: dummyHandled{}, Commands: bus.CommandBus,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.AddHandlers(application.CommandHandlers(), application.EventHandlers()); err != nil {
		t.Fatalf("the application's own tables must register: %v", err)
	}
}

type dummyUoW struct{ app.UnitOfWork }
type dummyView struct{ app.AllocationsView }
type dummyHandled struct{ app.HandledEvents }
