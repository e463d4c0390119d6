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
	if err := ValidateIdentifier("orderid", orderID); err != nil {
		return OrderLine{}, err
	}
	if err := ValidateIdentifier("sku", sku); err != nil {
		return OrderLine{}, err
	}
	if err := ValidateQuantity("qty", qty, 1); err != nil {
		return OrderLine{}, err
	}
	return OrderLine{orderID: orderID, sku: sku, qty: qty}, nil
}

func (l OrderLine) OrderID() string { return l.orderID }
func (l OrderLine) SKU() string     { return l.sku }
func (l OrderLine) Qty() int        { return l.qty }
