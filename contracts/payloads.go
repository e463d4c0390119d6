package contracts

import "encoding/json"

// ChangeBatchQuantityPayload is the ChangeBatchQuantityV1 payload:
// {"batchref": "b1", "qty": 5}. Qty is a json.Number because the schema's
// "integer" also admits 5.0 and 1e2, which encoding/json would refuse for
// an int; Validator.Validate has checked it is a whole number in range.
type ChangeBatchQuantityPayload struct {
	BatchRef string      `json:"batchref"`
	Qty      json.Number `json:"qty"`
}

// LineAllocatedPayload is the LineAllocatedV1 payload:
// {"orderid": "o1", "sku": "LAMP", "qty": 10, "batchref": "b1"}.
type LineAllocatedPayload struct {
	OrderID  string `json:"orderid"`
	SKU      string `json:"sku"`
	Qty      int    `json:"qty"`
	BatchRef string `json:"batchref"`
}
