package app

import (
	"context"
	"errors"

	"allocation/domain"
)

// AddBatchHandler handles CreateBatch: it adds a batch, creating the
// product when the sku is new. Batch references are unique across products.
type AddBatchHandler struct {
	tx TransactionRunner
}

func NewAddBatchHandler(tx TransactionRunner) AddBatchHandler { return AddBatchHandler{tx: tx} }

func (h AddBatchHandler) Handle(ctx context.Context, cmd *domain.CreateBatch) error {
	// Validate before touching the store, so bad input costs nothing.
	if _, err := domain.NewBatch(cmd.Ref, cmd.SKU, cmd.Qty, cmd.ETA); err != nil {
		return err
	}
	return h.tx.Run(ctx, func(ctx context.Context, tx Transaction) error {
		products := tx.Products()
		_, err := products.GetByBatchRef(ctx, cmd.Ref)
		if err == nil {
			return domain.DuplicateBatchError{Ref: cmd.Ref}
		}
		var noBatch domain.BatchNotFoundError
		if !errors.As(err, &noBatch) {
			return err
		}
		product, err := products.Get(ctx, cmd.SKU)
		var noProduct domain.ProductNotFoundError
		switch {
		case errors.As(err, &noProduct):
			if product, err = domain.NewProduct(cmd.SKU); err != nil {
				return err
			}
			if err := product.AddBatch(cmd.Ref, cmd.Qty, cmd.ETA); err != nil {
				return err
			}
			if err := products.Add(ctx, product); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			if err := product.AddBatch(cmd.Ref, cmd.Qty, cmd.ETA); err != nil {
				return err
			}
		}
		return tx.Commit(ctx)
	})
}
