package messagebus_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"allocation/adapters/messagebus"
	"allocation/app"
	"allocation/domain"
)

func date(s string) *time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return &t
}

// uniq keeps names apart between brokers that persist messages.
func uniq(name string) string { return name + "-" + watermill.NewShortUUID() }

func TestAddBatchForNewProduct(t *testing.T) {
	forEachBroker(t, func(t *testing.T, h *harness) {
		sku, ref := uniq("CRUNCHY-ARMCHAIR"), uniq("b1")
		h.addBatch(ref, sku, 100, nil)
		p := h.product(sku)
		if b, ok := p.Batch(ref); !ok || b.PurchasedQuantity() != 100 {
			t.Fatalf("batch %s not stored: %+v", ref, p.Batches())
		}
	})
}

func TestAddBatchForExistingProductThroughCommandBus(t *testing.T) {
	forEachBroker(t, func(t *testing.T, h *harness) {
		sku := uniq("GARISH-RUG")
		b1, b2 := uniq("b1"), uniq("b2")
		h.addBatch(b1, sku, 100, nil)
		if err := h.bus.CommandBus.Send(context.Background(), &domain.CreateBatch{Ref: b2, SKU: sku, Qty: 99}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "second batch", func() bool { return len(h.product(sku).Batches()) == 2 })
	})
}

func TestDuplicateBatchRefIsRefused(t *testing.T) {
	forEachBroker(t, func(t *testing.T, h *harness) {
		ref := uniq("b1")
		h.addBatch(ref, uniq("LAMP"), 10, nil)
		err := h.app.AddBatch.Handle(context.Background(), &domain.CreateBatch{Ref: ref, SKU: uniq("OTHER"), Qty: 5})
		var duplicate domain.DuplicateBatchError
		if !errors.As(err, &duplicate) {
			t.Fatalf("err = %v, want DuplicateBatchError", err)
		}
	})
}

func TestAllocateReturnsBatchAndUpdatesView(t *testing.T) {
	forEachBroker(t, func(t *testing.T, h *harness) {
		sku, order := uniq("COMPLICATED-LAMP"), uniq("o1")
		early, late := uniq("early"), uniq("late")
		h.addBatch(late, sku, 100, date("2030-01-02"))
		h.addBatch(early, sku, 100, date("2030-01-01"))
		ref, err := h.app.Allocate.Handle(context.Background(), &domain.Allocate{OrderID: order, SKU: sku, Qty: 10})
		if err != nil || ref != early {
			t.Fatalf("allocate = %q, %v; want %q", ref, err, early)
		}
		eventually(t, "allocations view", func() bool {
			rows, _ := h.view.AllocationsFor(context.Background(), order)
			return slices.Equal(rows, []app.Allocation{{SKU: sku, BatchRef: early}})
		})
	})
}

func TestInvalidSkuReachesTheSender(t *testing.T) {
	forEachBroker(t, func(t *testing.T, h *harness) {
		h.addBatch(uniq("b1"), uniq("AREALSKU"), 100, nil)
		_, err := h.app.Allocate.Handle(context.Background(), &domain.Allocate{OrderID: "o1", SKU: "NONEXISTENTSKU", Qty: 10})
		var noProduct domain.ProductNotFoundError
		if !errors.As(err, &noProduct) || err.Error() != "Invalid sku NONEXISTENTSKU" {
			t.Fatalf("err = %v, want Invalid sku NONEXISTENTSKU", err)
		}
	})
}

func TestOutOfStockIsReportedAndNotified(t *testing.T) {
	forEachBroker(t, func(t *testing.T, h *harness) {
		sku := uniq("POPULAR-CURTAINS")
		h.addBatch(uniq("b1"), sku, 9, nil)
		_, err := h.app.Allocate.Handle(context.Background(), &domain.Allocate{OrderID: uniq("o1"), SKU: sku, Qty: 10})
		var outOfStock domain.OutOfStockError
		if !errors.As(err, &outOfStock) {
			t.Fatalf("err = %v, want OutOfStockError", err)
		}
		want := "Out of stock for " + sku
		eventually(t, "out-of-stock notification", func() bool { return slices.Contains(h.notifier.sent(), want) })
	})
}

// The book's "reallocates if necessary": shrinking a batch deallocates a
// line, whose Deallocated event re-allocates it to the next batch.
func TestChangeOfQuantityReallocatesToTheNextBatch(t *testing.T) {
	forEachBroker(t, func(t *testing.T, h *harness) {
		sku := uniq("INDIFFERENT-TABLE")
		b1, b2 := uniq("b1"), uniq("b2")
		o1, o2 := uniq("o1"), uniq("o2")
		h.addBatch(b1, sku, 50, nil)
		h.addBatch(b2, sku, 50, date("2030-01-01"))
		for _, o := range []string{o1, o2} {
			if ref, err := h.app.Allocate.Handle(context.Background(), &domain.Allocate{OrderID: o, SKU: sku, Qty: 20}); err != nil || ref != b1 {
				t.Fatalf("allocate %s = %q, %v", o, ref, err)
			}
		}
		if err := h.app.ChangeBatchQuantity.Handle(context.Background(), &domain.ChangeBatchQuantity{Ref: b1, Qty: 25}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "o2 moved to b2", func() bool {
			p := h.product(sku)
			first, _ := p.Batch(b1)
			second, _ := p.Batch(b2)
			return first.AvailableQuantity() == 5 && second.AvailableQuantity() == 30 && second.HasLine(o2)
		})
		eventually(t, "view shows o2 on b2", func() bool {
			rows, _ := h.view.AllocationsFor(context.Background(), o2)
			return slices.Equal(rows, []app.Allocation{{SKU: sku, BatchRef: b2}})
		})
	})
}

// A failing event handler is retried, then parked, while the other handler
// of the same event (the read model) still runs.
func TestFailingEventHandlerIsRetriedThenParkedWithoutStoppingOthers(t *testing.T) {
	forEachBroker(t, func(t *testing.T, h *harness) {
		h.external.fail(errBrokerAway)
		_, order, _ := h.allocatedOne("SHAKY-STOOL")
		eventually(t, "read model updated", func() bool {
			rows, _ := h.view.AllocationsFor(context.Background(), order)
			return len(rows) == 1
		})
		var parked *message.Message
		eventually(t, "message parked", func() bool {
			parked = h.poison.find(func(m *message.Message) bool {
				return m.Metadata.Get(middleware.PoisonedHandlerKey) == "PublishLineAllocated" && strings.Contains(string(m.Payload), order)
			})
			return parked != nil
		})
		if reason := parked.Metadata.Get(middleware.ReasonForPoisonedKey); !strings.Contains(reason, errBrokerAway.Error()) {
			t.Errorf("reason = %q", reason)
		}
		if topic := parked.Metadata.Get(middleware.PoisonedTopicKey); topic != messagebus.EventTopic("Allocated") {
			t.Errorf("origin topic = %q", topic)
		}
		if _, _, attempts := h.external.snapshot(); attempts != testMaxRetries+1 {
			t.Errorf("attempts = %d, want %d (first try and %d retries)", attempts, testMaxRetries+1, testMaxRetries)
		}
	})
}

func TestPermanentErrorIsParkedAtOnce(t *testing.T) {
	forEachBroker(t, func(t *testing.T, h *harness) {
		h.external.fail(app.Permanent(errors.New("payload refused")))
		sku, order := uniq("BROKEN-VASE"), uniq("o1")
		h.addBatch(uniq("b1"), sku, 10, nil)
		if _, err := h.app.Allocate.Handle(context.Background(), &domain.Allocate{OrderID: order, SKU: sku, Qty: 1}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "message parked", func() bool {
			return h.poison.find(func(m *message.Message) bool { return strings.Contains(string(m.Payload), order) }) != nil
		})
		if _, _, attempts := h.external.snapshot(); attempts != 1 {
			t.Errorf("attempts = %d, want 1: permanent errors are not retried", attempts)
		}
	})
}

func TestUnknownBatchCommandIsParkedWithReason(t *testing.T) {
	forEachBroker(t, func(t *testing.T, h *harness) {
		ref := uniq("no-such-batch")
		if err := h.bus.CommandBus.Send(context.Background(), &domain.ChangeBatchQuantity{Ref: ref, Qty: 5}); err != nil {
			t.Fatal(err)
		}
		var parked *message.Message
		eventually(t, "command parked", func() bool {
			parked = h.poison.find(func(m *message.Message) bool { return strings.Contains(string(m.Payload), ref) })
			return parked != nil
		})
		if got := parked.Metadata.Get(middleware.ReasonForPoisonedKey); got != fmt.Sprintf("Unknown batch %s", ref) {
			t.Errorf("reason = %q", got)
		}
		if got := parked.Metadata.Get(middleware.PoisonedHandlerKey); got != "ChangeBatchQuantityHandler" {
			t.Errorf("handler = %q", got)
		}
	})
}

func TestCorrelationIDIsCarriedFromCommandToEvents(t *testing.T) {
	forEachBroker(t, func(t *testing.T, h *harness) {
		sku, b1, b2 := h.inStockAndLater("WOBBLY-CHAIR")
		order := uniq("o1")
		ctx := app.WithCorrelationID(context.Background(), "corr-allocate")
		if _, err := h.app.Allocate.Handle(ctx, &domain.Allocate{OrderID: order, SKU: sku, Qty: 10}); err != nil {
			t.Fatal(err)
		}
		// Through a chain: command -> Deallocated -> Allocate command -> Allocated.
		ctx = app.WithCorrelationID(context.Background(), "corr-change")
		if err := h.app.ChangeBatchQuantity.Handle(ctx, &domain.ChangeBatchQuantity{Ref: b1, Qty: 5}); err != nil {
			t.Fatal(err)
		}
		allocatedTo := func(ref string) func(*message.Message) bool {
			return func(m *message.Message) bool {
				return strings.Contains(string(m.Payload), order) && strings.Contains(string(m.Payload), `"batchref":"`+ref+`"`)
			}
		}
		var first, second, deallocated *message.Message
		eventually(t, "events", func() bool {
			first = h.events["Allocated"].find(allocatedTo(b1))
			second = h.events["Allocated"].find(allocatedTo(b2))
			deallocated = h.events["Deallocated"].find(func(m *message.Message) bool { return strings.Contains(string(m.Payload), order) })
			return first != nil && second != nil && deallocated != nil
		})
		for _, c := range []struct {
			msg  *message.Message
			want string
		}{{first, "corr-allocate"}, {deallocated, "corr-change"}, {second, "corr-change"}} {
			if got := middleware.MessageCorrelationID(c.msg); got != c.want {
				t.Errorf("correlation id of %s = %q, want %q", c.msg.Payload, got, c.want)
			}
		}
		eventually(t, "external publishes", func() bool {
			_, correlations, _ := h.external.snapshot()
			return slices.Contains(correlations, "corr-allocate") && slices.Contains(correlations, "corr-change")
		})
	})
}

func TestEventMessageUUIDIsTheStableEventID(t *testing.T) {
	forEachBroker(t, func(t *testing.T, h *harness) {
		sku, order, ref := h.allocatedOne("STABLE-SHELF")
		msg := h.waitForEvent("Allocated", order)
		want := app.EventID(domain.Allocated{OrderID: order, SKU: sku, Qty: 1, BatchRef: ref, Version: 2})
		if msg.UUID != want {
			t.Fatalf("uuid = %s, want %s", msg.UUID, want)
		}
	})
}
