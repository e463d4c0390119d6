package app

// Waiting tells how many commands wait for the product of sku, not counting
// a burst that runs.
func (q *ProductQueue) Waiting(sku string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.waiting[productKey{sku: sku}])
}

// Closed tells whether Close has begun.
func (q *ProductQueue) Closed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}
