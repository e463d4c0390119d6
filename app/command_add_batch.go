package app

import (
	"context"

	"allocation/domain"
)

// AddBatchHandler handles CreateBatch: it adds a batch, creating the
// product when the sku is new. Batch references are unique across
// products, which the store enforces.
type AddBatchHandler struct {
	products *ProductQueue
}

func NewAddBatchHandler(products *ProductQueue) AddBatchHandler {
	return AddBatchHandler{products: products}
}

func (h AddBatchHandler) Handle(ctx context.Context, cmd *domain.CreateBatch) error {
	// Bad input is refused before it joins a product's queue.
	if _, err := domain.NewBatch(cmd.Ref, cmd.SKU, cmd.Qty, cmd.ETA); err != nil {
		return err
	}
	_, err := h.products.run(ctx, productKey{sku: cmd.SKU}, addBatch{cmd: cmd})
	return err
}

type addBatch struct{ cmd *domain.CreateBatch }

func (addBatch) orderID() string { return "" }

func (a addBatch) apply(ctx context.Context, products ProductRepository, product *domain.Product) (*domain.Product, string, error) {
	if product != nil {
		return product, "", product.AddBatch(a.cmd.Ref, a.cmd.Qty, a.cmd.ETA)
	}
	product, err := domain.NewProduct(a.cmd.SKU)
	if err != nil {
		return nil, "", err
	}
	if err := product.AddBatch(a.cmd.Ref, a.cmd.Qty, a.cmd.ETA); err != nil {
		return nil, "", err
	}
	if err := products.Add(ctx, product); err != nil {
		return nil, "", err
	}
	return product, "", nil
}
