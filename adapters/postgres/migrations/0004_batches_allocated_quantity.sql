-- A batch's allocated total, kept with the batch in the transaction that
-- changes its lines, so that loading a product for a command reads its
-- batches and not every order line it ever took.
ALTER TABLE batches ADD COLUMN allocated_quantity INTEGER NOT NULL DEFAULT 0;

UPDATE batches b
SET allocated_quantity = a.total
FROM (SELECT batch_ref, sum(qty) AS total FROM allocations GROUP BY batch_ref) a
WHERE a.batch_ref = b.ref;

-- The allocation rule itself, as a last line of defence.
ALTER TABLE batches ADD CONSTRAINT batches_allocated_within_purchased
    CHECK (allocated_quantity >= 0 AND allocated_quantity <= purchased_quantity);
