-- Messaging: when each delivery step happened, who wrote an incoming group
-- message, and idempotency keys of send requests.

ALTER TABLE message_logs ADD COLUMN sender_jid TEXT;           -- incoming: the author (group participant)
ALTER TABLE message_logs ADD COLUMN sent_at TIMESTAMPTZ;       -- outgoing: accepted by WhatsApp
ALTER TABLE message_logs ADD COLUMN delivered_at TIMESTAMPTZ;  -- reached the recipient's phone
ALTER TABLE message_logs ADD COLUMN read_at TIMESTAMPTZ;       -- read (blue ticks)
ALTER TABLE message_logs ADD COLUMN played_at TIMESTAMPTZ;     -- voice/video played
ALTER TABLE message_logs ADD COLUMN failed_at TIMESTAMPTZ;     -- gave up; see error
CREATE INDEX message_logs_session_status_idx ON message_logs (session_id, status, id DESC);

-- A retried POST with the same Idempotency-Key gets the original message.
CREATE TABLE idempotency_keys (
    session_id    TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    key           TEXT NOT NULL,                 -- the client's Idempotency-Key
    request_hash  TEXT NOT NULL,                 -- SHA-256 of the request body
    message_id    TEXT NOT NULL,                 -- the message the first request created
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (session_id, key)
);
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);
