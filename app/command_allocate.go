package app

import (
	"context"

	"allocation/domain"
)

// AllocateHandler handles Allocate and returns the chosen batch reference.
// When the product is out of stock the OutOfStock event is still committed
// and domain.OutOfStockError returned to the sender.
type AllocateHandler struct{ products *ProductQueue }

func NewAllocateHandler(products *ProductQueue) AllocateHandler { return AllocateHandler{products} }

func (h AllocateHandler) Handle(ctx context.Context, cmd *domain.Allocate) (string, error) {
	line, err := domain.NewOrderLine(cmd.OrderID, cmd.SKU, cmd.Qty)
	if err != nil {
		return "", err
	}
	return h.products.run(ctx, productKey{sku: cmd.SKU}, allocateLine{line})
}

type allocateLine struct{ line domain.OrderLine }

func (a allocateLine) orderID() string { return a.line.OrderID() }

func (a allocateLine) apply(_ context.Context, _ ProductRepository, product *domain.Product) (*domain.Product, string, error) {
	if product == nil {
		return nil, "", domain.ProductNotFoundError{SKU: a.line.SKU()}
	}
	ref, err := product.Allocate(a.line)
	return product, ref, err
}
