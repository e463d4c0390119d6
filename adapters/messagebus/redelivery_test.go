package messagebus_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"

	"allocation/adapters/messagebus"
	"allocation/app"
	"allocation/domain"
)

func TestRedeliveredAllocateReturnsTheSameBatchAndChangesNothing(t *testing.T) {
	forEachBroker(t, func(t *testing.T, h *harness) {
		sku, order, ref := uniq("REPEAT-LAMP"), uniq("o1"), uniq("b1")
		h.addBatch(ref, sku, 10, nil)
		h.addBatch(uniq("b2"), sku, 10, date("2030-01-01"))
		cmd := &domain.Allocate{OrderID: order, SKU: sku, Qty: 3}
		first, err := h.app.Allocate.Handle(context.Background(), cmd)
		if err != nil {
			t.Fatal(err)
		}
		version := h.product(sku).Version()
		h.waitForEvent("Allocated", order)
		again, err := h.app.Allocate.Handle(context.Background(), cmd)
		if err != nil || again != first {
			t.Fatalf("again = %q, %v; want %q", again, err, first)
		}
		// And through the bus, as a redelivered command message.
		if err := h.bus.CommandBus.Send(context.Background(), cmd); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the command to be handled", func() bool { return h.handled.handledBy("AllocateHandler") == 1 })
		p := h.product(sku)
		b, _ := p.Batch(ref)
		if p.Version() != version || b.AvailableQuantity() != 7 {
			t.Fatalf("version %d -> %d, available %d: a redelivered Allocate changed the product", version, p.Version(), b.AvailableQuantity())
		}
		allocated := 0
		for _, m := range h.events["Allocated"].all() {
			if strings.Contains(string(m.Payload), order) {
				allocated++
			}
		}
		if allocated != 1 {
			t.Fatalf("%d Allocated events for one order line, want 1", allocated)
		}
	})
}

// waitForEvent returns the first event on the collector matching text.
func (h *harness) waitForEvent(name, text string) *message.Message {
	h.t.Helper()
	var msg *message.Message
	eventually(h.t, name+" event", func() bool {
		msg = h.events[name].find(func(m *message.Message) bool { return strings.Contains(string(m.Payload), text) })
		return msg != nil
	})
	return msg
}

// redeliverAndWait redelivers an event and waits until every handler of it
// handled it a second time.
func (h *harness) redeliverAndWait(name string, msg *message.Message, handlers ...string) {
	h.t.Helper()
	for _, handler := range handlers {
		eventually(h.t, handler+" to handle the first delivery", func() bool { return h.handled.count(handler, msg.UUID) == 1 })
	}
	h.redeliver(messagebus.EventTopic(name), msg)
	for _, handler := range handlers {
		eventually(h.t, handler+" to handle the redelivery", func() bool { return h.handled.count(handler, msg.UUID) == 2 })
	}
}

func TestRedeliveredAllocatedChangesNothing(t *testing.T) {
	forEachBroker(t, func(t *testing.T, h *harness) {
		sku, order, ref := h.allocatedOne("REPEAT-DESK")
		msg := h.waitForEvent("Allocated", order)
		h.redeliverAndWait("Allocated", msg, "AllocatedToAllocationsView", "PublishLineAllocated")
		rows, _ := h.view.AllocationsFor(context.Background(), order)
		if !slices.Equal(rows, []app.Allocation{{SKU: sku, BatchRef: ref}}) {
			t.Fatalf("view = %v", rows)
		}
		// The external message is published again, with the same stable id
		// (app.EventID), which is how consumers drop the duplicate.
		published, _, _ := h.external.snapshot()
		if len(published) != 2 || app.EventID(published[0]) != app.EventID(published[1]) || app.EventID(published[0]) != msg.UUID {
			t.Fatalf("published %v with ids differing from the event's %s", published, msg.UUID)
		}
	})
}

func TestRedeliveredDeallocatedChangesNothing(t *testing.T) {
	forEachBroker(t, func(t *testing.T, h *harness) {
		sku, b1, b2 := h.inStockAndLater("REPEAT-SOFA")
		order := uniq("o1")
		if _, err := h.app.Allocate.Handle(context.Background(), &domain.Allocate{OrderID: order, SKU: sku, Qty: 10}); err != nil {
			t.Fatal(err)
		}
		if err := h.app.ChangeBatchQuantity.Handle(context.Background(), &domain.ChangeBatchQuantity{Ref: b1, Qty: 5}); err != nil {
			t.Fatal(err)
		}
		msg := h.waitForEvent("Deallocated", order)
		h.waitForEvent("Allocated", `"batchref":"`+b2+`"`)
		eventually(t, "the view to show b2", func() bool {
			rows, _ := h.view.AllocationsFor(context.Background(), order)
			return slices.Equal(rows, []app.Allocation{{SKU: sku, BatchRef: b2}})
		})
		version := h.product(sku).Version()

		h.redeliverAndWait("Deallocated", msg, "DeallocatedToAllocationsView", "ReallocateOnDeallocated")
		// The re-sent Allocate finds the line allocated and changes nothing.
		eventually(t, "the second re-allocation command to be handled", func() bool { return h.handled.handledBy("AllocateHandler") == 2 })
		p := h.product(sku)
		second, _ := p.Batch(b2)
		if p.Version() != version || !second.HasLine(order) || second.AvailableQuantity() != 0 {
			t.Fatalf("version %d -> %d, b2 available %d", version, p.Version(), second.AvailableQuantity())
		}
		rows, _ := h.view.AllocationsFor(context.Background(), order)
		if !slices.Equal(rows, []app.Allocation{{SKU: sku, BatchRef: b2}}) {
			t.Fatalf("view after redelivery = %v", rows)
		}
	})
}

func TestRedeliveredOutOfStockNotifiesOnce(t *testing.T) {
	forEachBroker(t, func(t *testing.T, h *harness) {
		sku, order := uniq("REPEAT-RUG"), uniq("o1")
		h.addBatch(uniq("b1"), sku, 1, nil)
		if _, err := h.app.Allocate.Handle(context.Background(), &domain.Allocate{OrderID: order, SKU: sku, Qty: 5}); err == nil {
			t.Fatal("allocation beyond stock succeeded")
		}
		msg := h.waitForEvent("OutOfStock", order)
		h.redeliverAndWait("OutOfStock", msg, "NotifyOutOfStock")
		sent := 0
		for _, s := range h.notifier.sent() {
			if s == "Out of stock for "+sku {
				sent++
			}
		}
		if sent != 1 {
			t.Fatalf("%d notifications for one event, want 1", sent)
		}
	})
}
