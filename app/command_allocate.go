package app

import (
	"context"
	"errors"

	"allocation/domain"
)

// AllocateHandler handles Allocate and returns the chosen batch reference.
// When the product is out of stock the transaction is still committed, so
// that the OutOfStock event is published, and domain.OutOfStockError is
// returned to the sender.
type AllocateHandler struct {
	tx TransactionRunner
}

func NewAllocateHandler(tx TransactionRunner) AllocateHandler { return AllocateHandler{tx: tx} }

func (h AllocateHandler) Handle(ctx context.Context, cmd *domain.Allocate) (string, error) {
	line, err := domain.NewOrderLine(cmd.OrderID, cmd.SKU, cmd.Qty)
	if err != nil {
		return "", err
	}
	var batchRef string
	err = h.tx.Run(ctx, func(ctx context.Context, tx Transaction) error {
		product, err := tx.Products().Get(ctx, line.SKU())
		if err != nil {
			return err
		}
		ref, allocErr := product.Allocate(line)
		var outOfStock domain.OutOfStockError
		if allocErr != nil && !errors.As(allocErr, &outOfStock) {
			return allocErr
		}
		if err := tx.Commit(ctx); err != nil {
			return err
		}
		batchRef = ref
		return allocErr
	})
	return batchRef, err
}
