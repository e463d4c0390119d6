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

// ChangeBatchQuantity sets a batch's purchased quantity.
type ChangeBatchQuantity struct {
	Ref string `json:"ref"`
	Qty int    `json:"qty"`
}

// Commands lists one value of every command type, so that start-up can
// check that each has exactly one handler.
func Commands() []any {
	return []any{&CreateBatch{}, &Allocate{}, &ChangeBatchQuantity{}}
}
