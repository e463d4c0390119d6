package app

import (
	"context"

	"allocation/domain"
)

// ChangeBatchQuantityHandler handles ChangeBatchQuantity. Lines that no
// longer fit are deallocated by the domain, which records Deallocated for
// each; their handler allocates them again.
type ChangeBatchQuantityHandler struct{ products *ProductQueue }

func NewChangeBatchQuantityHandler(products *ProductQueue) ChangeBatchQuantityHandler {
	return ChangeBatchQuantityHandler{products}
}

func (h ChangeBatchQuantityHandler) Handle(ctx context.Context, cmd *domain.ChangeBatchQuantity) error {
	if err := cmd.Validate(); err != nil {
		return err
	}
	// Queued by batch: the sku is not known before the product is loaded.
	_, err := h.products.run(ctx, productKey{batchRef: cmd.Ref}, changeBatchQuantity{cmd})
	return err
}

type changeBatchQuantity struct{ cmd *domain.ChangeBatchQuantity }

func (changeBatchQuantity) orderID() string { return "" }

func (c changeBatchQuantity) apply(_ context.Context, _ ProductRepository, product *domain.Product) (*domain.Product, string, error) {
	if product == nil {
		return nil, "", domain.BatchNotFoundError{Ref: c.cmd.Ref}
	}
	return product, "", product.ApplyBatchQuantityChange(*c.cmd)
}
