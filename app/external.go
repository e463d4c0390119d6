package app

import (
	"context"

	"allocation/domain"
)

// ExternalEventPublisher publishes facts on the topics other services read.
type ExternalEventPublisher interface {
	PublishLineAllocated(ctx context.Context, e domain.Allocated) error
}

// PublishLineAllocatedHandler tells other services about every allocation
// (external topic line_allocated).
type PublishLineAllocatedHandler struct{ external ExternalEventPublisher }

func NewPublishLineAllocatedHandler(external ExternalEventPublisher) PublishLineAllocatedHandler {
	return PublishLineAllocatedHandler{external}
}

func (h PublishLineAllocatedHandler) Handle(ctx context.Context, e *domain.Allocated) error {
	return h.external.PublishLineAllocated(ctx, *e)
}
