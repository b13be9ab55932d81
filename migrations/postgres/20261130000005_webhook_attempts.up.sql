-- One row per webhook delivery attempt: what the receiver answered, how fast.
CREATE TABLE webhook_attempts (
    id                BIGSERIAL PRIMARY KEY,
    delivery_id       BIGINT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt           INTEGER NOT NULL,
    status_code       INTEGER,                    -- null when no response (network error, refused URL)
    latency_ms        INTEGER NOT NULL,
    error             TEXT,
    response_excerpt  TEXT,                       -- first bytes of the response body
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, id);
CREATE INDEX webhook_deliveries_session_status_idx ON webhook_deliveries (session_id, status, id DESC);
