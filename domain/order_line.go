package domain

// OrderLine is a value object: a quantity of one sku wanted by one order.
// Within a product the order id identifies the line.
type OrderLine struct {
	orderID string
	sku     string
	qty     int
}

// NewOrderLine validates and builds an order line.
func NewOrderLine(orderID, sku string, qty int) (OrderLine, error) {
	if orderID == "" {
		return OrderLine{}, ValidationError{Field: "orderid", Reason: "must not be empty"}
	}
	if sku == "" {
		return OrderLine{}, ValidationError{Field: "sku", Reason: "must not be empty"}
	}
	if qty <= 0 {
		return OrderLine{}, ValidationError{Field: "qty", Reason: "must be a positive integer"}
	}
	return OrderLine{orderID: orderID, sku: sku, qty: qty}, nil
}

func (l OrderLine) OrderID() string { return l.orderID }
func (l OrderLine) SKU() string     { return l.sku }
func (l OrderLine) Qty() int        { return l.qty }
