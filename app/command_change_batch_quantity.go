package app

import (
	"context"

	"allocation/domain"
)

// ChangeBatchQuantityHandler handles ChangeBatchQuantity. Lines that no
// longer fit are deallocated by the domain, which records Deallocated for
// each; their handler allocates them again.
type ChangeBatchQuantityHandler struct {
	tx TransactionRunner
}

func NewChangeBatchQuantityHandler(tx TransactionRunner) ChangeBatchQuantityHandler {
	return ChangeBatchQuantityHandler{tx: tx}
}

func (h ChangeBatchQuantityHandler) Handle(ctx context.Context, cmd *domain.ChangeBatchQuantity) error {
	if cmd.Ref == "" {
		return domain.ValidationError{Field: "batchref", Reason: "must not be empty"}
	}
	if cmd.Qty < 0 {
		return domain.ValidationError{Field: "qty", Reason: "must not be negative"}
	}
	return h.tx.Run(ctx, func(ctx context.Context, tx Transaction) error {
		product, err := tx.Products().GetByBatchRef(ctx, cmd.Ref)
		if err != nil {
			return err
		}
		if err := product.ChangeBatchQuantity(cmd.Ref, cmd.Qty); err != nil {
			return err
		}
		return tx.Commit(ctx)
	})
}
