package broker_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"

	"allocation/app"
	"allocation/domain"
	"allocation/ports/broker"
)

// The inbound change_batch_quantity decoder and its schema, on any
// payload: never a panic; a payload refused is refused for good (a
// permanent error) with a reason that names the field (a JSON pointer such
// as /batchref) or says the body is not JSON; and whatever the schema lets
// through, the domain accepts too, so no accepted message fails later for
// its shape.
func FuzzChangeBatchQuantityDecoder(f *testing.F) {
	var got *domain.ChangeBatchQuantity
	c, err := broker.NewChangeBatchQuantityConsumer(func(_ context.Context, cmd *domain.ChangeBatchQuantity) error {
		got = cmd
		return nil
	}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		got = nil
		err := c.Handle(message.NewMessage("m", payload))
		if err == nil {
			if got == nil {
				t.Fatal("accepted without running the command")
			}
			if err := domain.ValidateIdentifier("ref", got.Ref); err != nil {
				t.Fatalf("schema accepted %q, the domain refuses it: %v", payload, err)
			}
			if err := domain.ValidateQuantity("qty", got.Qty, 0); err != nil {
				t.Fatalf("schema accepted %q, the domain refuses it: %v", payload, err)
			}
			return
		}
		var invalid *broker.InvalidMessageError
		if !app.IsPermanent(err) || !errors.As(err, &invalid) {
			t.Fatalf("%q: %v (%T), want a permanent InvalidMessageError", payload, err, err)
		}
		if !namesTheProblem(invalid.Reason) {
			t.Fatalf("%q: reason %q names no field", payload, invalid.Reason)
		}
		if len(err.Error()) > 8192 {
			t.Fatalf("%q: reason of %d bytes", payload, len(err.Error()))
		}
	})
}

func namesTheProblem(reason string) bool {
	for _, s := range []string{"/batchref", "/qty", "not valid JSON", "/: ", "missing propert", "qty: "} {
		if strings.Contains(reason, s) {
			return true
		}
	}
	return false
}
