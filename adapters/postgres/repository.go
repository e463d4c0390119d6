package postgres

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/lib/pq"

	"allocation/app"
	"allocation/domain"
)

// repository is the transaction's view of products. Products it hands out
// are remembered, so that asking twice returns the same object and Commit
// knows what to write.
type repository transaction

func (r *repository) Add(ctx context.Context, p *domain.Product) error {
	if _, ok := r.seen[p.SKU()]; ok {
		return app.ConcurrencyConflictError{SKU: p.SKU()}
	}
	refs := make([]string, 0, len(p.Batches()))
	for _, b := range p.Batches() {
		refs = append(refs, b.Ref())
	}
	// Checked here to fail early, as the in-memory store does; Commit's
	// writes check again, since another transaction may get there first.
	var (
		exists  bool
		usedRef sql.NullString
	)
	err := r.tx.QueryRowContext(ctx, `SELECT
		EXISTS (SELECT 1 FROM products WHERE sku = $1),
		(SELECT ref FROM batches WHERE ref = ANY($2::text[]) ORDER BY id LIMIT 1)`,
		p.SKU(), pq.StringArray(refs)).Scan(&exists, &usedRef)
	if err != nil {
		return asUnavailable(fmt.Errorf("checking new product %s: %w", p.SKU(), err))
	}
	if exists {
		return app.ConcurrencyConflictError{SKU: p.SKU()}
	}
	if usedRef.Valid {
		return domain.DuplicateBatchError{Ref: usedRef.String}
	}
	r.seen[p.SKU()] = &seenProduct{product: p, isNew: true}
	return nil
}

// Get locks and loads the product. A product handed out already is the
// one object of its sku for the rest of the transaction, as in memory; ask
// for every order it will allocate the first time.
func (r *repository) Get(ctx context.Context, sku string, orderIDs ...string) (*domain.Product, error) {
	if s, ok := r.seen[sku]; ok {
		return s.product, nil
	}
	p, found, err := loadProductBySKU(ctx, r.tx, sku, orderIDs)
	if err != nil {
		return nil, asUnavailable(err)
	}
	if !found {
		return nil, domain.ProductNotFoundError{SKU: sku}
	}
	return r.remember(p), nil
}

func (r *repository) GetByBatchRef(ctx context.Context, ref string) (*domain.Product, error) {
	for _, s := range r.seen {
		if _, ok := s.product.Batch(ref); ok {
			return s.product, nil
		}
	}
	p, found, err := loadProductByBatchRef(ctx, r.tx, ref)
	if err != nil {
		return nil, asUnavailable(err)
	}
	if !found {
		return nil, domain.BatchNotFoundError{Ref: ref}
	}
	// A product already handed out stays the one object of its sku, even
	// though another transaction has added the batch since (as in memory).
	if s, ok := r.seen[p.SKU()]; ok {
		return s.product, nil
	}
	return r.remember(p), nil
}

func (r *repository) remember(p *domain.Product) *domain.Product {
	r.seen[p.SKU()] = &seenProduct{product: p, loadedVersion: p.Version(), loaded: snapshotBatches(p)}
	return p
}
