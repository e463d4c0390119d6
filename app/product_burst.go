package app

import (
	"context"
	"errors"
	"time"

	"allocation/domain"
)

// productCommand is one command's part of a burst on a product.
type productCommand interface {
	// orderID names the order whose lines the command reads, or "".
	orderID() string
	// apply changes the product (nil when the sku has none yet) and returns
	// the product from then on. An error that IsPermanent is the sender's
	// own outcome; any other error fails the whole burst.
	apply(ctx context.Context, products ProductRepository, product *domain.Product) (*domain.Product, string, error)
}

// burstRunner applies a burst of commands to one loaded product and commits
// them in one transaction, each sender getting its own result.
type burstRunner struct {
	tx TransactionRunner
	// timeout bounds a burst, so that a store that stops answering fails
	// it rather than holding the product's queue for ever.
	timeout time.Duration
}

func (r burstRunner) run(key productKey, burst []*queuedCommand) {
	// The burst belongs to no single sender: it runs to its end even when
	// the first sender stops waiting.
	ctx := burst[0].ctx
	if r.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.timeout)
		defer cancel()
	}
	err := r.runTogether(ctx, key, burst)
	if err != nil && len(burst) > 1 && IsPermanent(err) {
		// Only the commit can fail this way (a batch reference another
		// product took meanwhile): run each command alone so that the one it
		// concerns fails and its neighbours do not.
		for _, c := range burst {
			if err := r.runTogether(ctx, key, []*queuedCommand{c}); err != nil {
				c.batchRef, c.err = "", err
			}
		}
		return
	}
	if err != nil {
		for _, c := range burst {
			c.batchRef, c.err = "", err
		}
	}
}

// runTogether runs the burst in one transaction, again from the start on a
// concurrency conflict. On success every command holds its outcome.
func (r burstRunner) runTogether(ctx context.Context, key productKey, burst []*queuedCommand) error {
	return r.tx.Run(ctx, func(ctx context.Context, tx Transaction) error {
		products := tx.Products()
		product, err := loadForBurst(ctx, products, key, burst)
		if err != nil {
			return err
		}
		for _, c := range burst {
			next, batchRef, err := c.cmd.apply(ctx, products, product)
			if err != nil && !IsPermanent(err) {
				return err
			}
			c.batchRef, c.err, product = batchRef, err, next
			if product != nil {
				// Each command's events carry its own sender's correlation.
				tx.RecordEvents(c.ctx, product.PopEvents())
			}
		}
		return tx.Commit(ctx)
	})
}

// loadForBurst loads the product with the lines the burst's commands read;
// nil when there is none yet.
func loadForBurst(ctx context.Context, products ProductRepository, key productKey, burst []*queuedCommand) (*domain.Product, error) {
	if key.sku == "" {
		product, err := products.GetByBatchRef(ctx, key.batchRef)
		if errors.As(err, new(domain.BatchNotFoundError)) {
			return nil, nil
		}
		return product, err
	}
	orderIDs := make([]string, 0, len(burst))
	for _, c := range burst {
		if id := c.cmd.orderID(); id != "" {
			orderIDs = append(orderIDs, id)
		}
	}
	product, err := products.Get(ctx, key.sku, orderIDs...)
	if errors.As(err, new(domain.ProductNotFoundError)) {
		return nil, nil
	}
	return product, err
}
