-- The Sequence of the last quantity change applied to a batch, so that a
-- late or replayed change_batch_quantity older than it changes nothing.
ALTER TABLE batches ADD COLUMN last_change TEXT NULL;
