package domain

import "time"

// Commands are intents. Each has exactly one handler.

// CreateBatch adds a batch of stock, creating the product when it is new.
type CreateBatch struct {
	Ref string     `json:"ref"`
	SKU string     `json:"sku"`
	Qty int        `json:"qty"`
	ETA *time.Time `json:"eta,omitempty"`
}

// Allocate asks for an order line to be allocated to the best batch.
type Allocate struct {
	OrderID string `json:"orderid"`
	SKU     string `json:"sku"`
	Qty     int    `json:"qty"`
}

// ChangeBatchQuantity sets a batch's purchased quantity. Sequence places
// the change among the changes sent before and after it (the broker's
// order, comparable as strings); a change older than the last one applied
// to the batch is refused with StaleChangeError, so that a late or
// replayed message does not undo a newer one. Empty: not ordered, always
// applied.
type ChangeBatchQuantity struct {
	Ref      string `json:"ref"`
	Qty      int    `json:"qty"`
	Sequence string `json:"sequence,omitempty"`
}

// Validate refuses a command the domain would refuse, with the same
// ValidationError, so that bad input is refused before it is queued or
// sent on.
func (c CreateBatch) Validate() error {
	_, err := NewBatch(c.Ref, c.SKU, c.Qty, c.ETA)
	return err
}

func (c Allocate) Validate() error {
	_, err := NewOrderLine(c.OrderID, c.SKU, c.Qty)
	return err
}

func (c ChangeBatchQuantity) Validate() error {
	if err := ValidateIdentifier("ref", c.Ref); err != nil {
		return err
	}
	return ValidateQuantity("qty", c.Qty, 0)
}

// Commands lists one value of every command type, so that start-up can
// check that each has exactly one handler.
func Commands() []any {
	return []any{&CreateBatch{}, &Allocate{}, &ChangeBatchQuantity{}}
}
