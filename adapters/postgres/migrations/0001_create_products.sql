-- The Product aggregate: products, their batches and the order lines
-- allocated to them. Serial ids keep insertion order, which the domain
-- relies on (batch preference ties, deallocating the newest line first).
CREATE TABLE products (
    sku            TEXT PRIMARY KEY,
    version_number INTEGER NOT NULL
);

CREATE TABLE batches (
    id                 BIGSERIAL PRIMARY KEY,
    ref                TEXT NOT NULL UNIQUE,
    sku                TEXT NOT NULL REFERENCES products (sku),
    purchased_quantity INTEGER NOT NULL CHECK (purchased_quantity >= 0),
    eta                DATE NULL
);

-- Loading a product reads its batches in insertion order.
CREATE INDEX batches_sku_id_idx ON batches (sku, id);

CREATE TABLE allocations (
    id        BIGSERIAL PRIMARY KEY,
    batch_ref TEXT NOT NULL REFERENCES batches (ref),
    orderid   TEXT NOT NULL,
    sku       TEXT NOT NULL,
    qty       INTEGER NOT NULL CHECK (qty > 0),
    -- A batch holds at most one line of an order (Batch.HasLine).
    UNIQUE (batch_ref, orderid)
);
