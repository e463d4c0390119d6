-- Events a side-effecting handler has already acted on (notifications), so
-- that a redelivered event does not act twice.
CREATE TABLE IF NOT EXISTS handled_events (
    handler    TEXT        NOT NULL,
    event_id   TEXT        NOT NULL,
    handled_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (handler, event_id)
);
