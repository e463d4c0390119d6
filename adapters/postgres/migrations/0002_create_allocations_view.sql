-- The read model behind GET /allocations/{orderid}. version is the product
-- version of the last event applied, so stale and repeated events change
-- nothing; batchref is NULL after a deallocation.
CREATE TABLE allocations_view (
    orderid  TEXT NOT NULL,
    sku      TEXT NOT NULL,
    batchref TEXT NULL,
    version  INTEGER NOT NULL,
    PRIMARY KEY (orderid, sku)
);
