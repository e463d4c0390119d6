package app

import (
	"context"

	"allocation/domain"
)

// AddBatchHandler handles CreateBatch: it adds a batch, creating the
// product when the sku is new. Batch references are unique across
// products, which the store enforces.
type AddBatchHandler struct{ products *ProductQueue }

func NewAddBatchHandler(products *ProductQueue) AddBatchHandler { return AddBatchHandler{products} }

func (h AddBatchHandler) Handle(ctx context.Context, cmd *domain.CreateBatch) error {
	if err := cmd.Validate(); err != nil {
		return err
	}
	_, err := h.products.run(ctx, productKey{sku: cmd.SKU}, addBatch{cmd})
	return err
}

type addBatch struct{ cmd *domain.CreateBatch }

func (addBatch) orderID() string { return "" }

// apply adds the batch before a new product is added to the store, so that
// the store checks its reference and a refused batch leaves no product.
func (a addBatch) apply(ctx context.Context, products ProductRepository, product *domain.Product) (*domain.Product, string, error) {
	if product != nil {
		return product, "", product.AddBatch(a.cmd.Ref, a.cmd.Qty, a.cmd.ETA)
	}
	product, err := domain.NewProduct(a.cmd.SKU)
	if err == nil {
		err = product.AddBatch(a.cmd.Ref, a.cmd.Qty, a.cmd.ETA)
	}
	if err == nil {
		err = products.Add(ctx, product)
	}
	if err != nil {
		return nil, "", err
	}
	return product, "", nil
}
