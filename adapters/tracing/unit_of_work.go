package tracing

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"allocation/app"
	"allocation/domain"
)

// unitOfWork puts a client span around every transaction, from Begin to
// Commit or Rollback, with a child span per repository call and for the
// commit (which stores the products and their events).
type unitOfWork struct {
	app.UnitOfWork
	attrs []attribute.KeyValue
}

// DecorateUnitOfWork traces the transactions of uow; system is the
// db.system.name attribute (postgresql, memory).
func DecorateUnitOfWork(uow app.UnitOfWork, system string) app.UnitOfWork {
	return unitOfWork{UnitOfWork: uow, attrs: []attribute.KeyValue{semconv.DBSystemNameKey.String(system)}}
}

func (u unitOfWork) Begin(ctx context.Context) (app.Transaction, error) {
	ctx, span := tracer().Start(ctx, "transaction", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(u.attrs...))
	tx, err := u.UnitOfWork.Begin(ctx)
	if err != nil {
		fail(span, err)
		span.End()
		return nil, err
	}
	return &transaction{Transaction: tx, span: span, attrs: u.attrs}, nil
}

type transaction struct {
	app.Transaction
	span  trace.Span
	attrs []attribute.KeyValue
	ended bool
}

// child starts a span under the transaction's.
func (t *transaction) child(ctx context.Context, name string) (context.Context, trace.Span) {
	return tracer().Start(trace.ContextWithSpan(ctx, t.span), name,
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(t.attrs...))
}

func (t *transaction) Products() app.ProductRepository {
	return repository{ProductRepository: t.Transaction.Products(), tx: t}
}

func (t *transaction) Commit(ctx context.Context) error {
	ctx, span := t.child(ctx, "commit")
	err := t.Transaction.Commit(ctx)
	end(span, err)
	t.end(err)
	return err
}

func (t *transaction) Rollback(ctx context.Context) error {
	err := t.Transaction.Rollback(ctx)
	t.end(nil)
	return err
}

func (t *transaction) end(err error) {
	if t.ended {
		return
	}
	t.ended = true
	if err != nil {
		fail(t.span, err)
	}
	t.span.End()
}

type repository struct {
	app.ProductRepository
	tx *transaction
}

func (r repository) Add(ctx context.Context, product *domain.Product) error {
	ctx, span := r.tx.child(ctx, "add product")
	err := r.ProductRepository.Add(ctx, product)
	end(span, err)
	return err
}

func (r repository) Get(ctx context.Context, sku string, orderIDs ...string) (*domain.Product, error) {
	ctx, span := r.tx.child(ctx, "load product")
	product, err := r.ProductRepository.Get(ctx, sku, orderIDs...)
	end(span, err)
	return product, err
}

func (r repository) GetByBatchRef(ctx context.Context, ref string) (*domain.Product, error) {
	ctx, span := r.tx.child(ctx, "load product by batch")
	product, err := r.ProductRepository.GetByBatchRef(ctx, ref)
	end(span, err)
	return product, err
}

func fail(span trace.Span, err error) {
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
}

func end(span trace.Span, err error) {
	if err != nil {
		fail(span, err)
	}
	span.End()
}
