-- The transactional outbox (BROKER=memory or redis): events stored by the
-- command's transaction, deleted by the relay once the broker has them.
CREATE TABLE outbox (
    "offset"   BIGSERIAL PRIMARY KEY,
    uuid       TEXT NOT NULL,
    topic      TEXT NOT NULL,
    payload    BYTEA NOT NULL,
    metadata   JSON NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT statement_timestamp()
);

-- Events that the previous relay (a Watermill forwarder reading the
-- watermill-sql topic "allocation.outbox" under its consumer group) had not
-- relayed yet move here, out of the forwarder's JSON envelope, so that they
-- are still relayed.
DO $$
BEGIN
    IF to_regclass('"watermill_allocation.outbox"') IS NOT NULL
       AND to_regclass('"watermill_offsets_allocation.outbox"') IS NOT NULL THEN
        INSERT INTO outbox (uuid, topic, payload, metadata, created_at)
        SELECT m.payload->>'uuid',
               m.payload->>'destination_topic',
               decode(coalesce(m.payload->>'payload', ''), 'base64'),
               CASE WHEN json_typeof(m.payload->'metadata') = 'object' THEN m.payload->'metadata' ELSE '{}'::json END,
               m.created_at
        FROM "watermill_allocation.outbox" m
        LEFT JOIN "watermill_offsets_allocation.outbox" o ON o.consumer_group = 'allocation.outbox'
        WHERE o.consumer_group IS NULL
           OR (m.transaction_id, m."offset") > (o.last_processed_transaction_id, o.offset_acked)
        ORDER BY m.transaction_id, m."offset";
    END IF;
END $$;
