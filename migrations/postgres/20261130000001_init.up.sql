-- The gateway's first tables. Every query the API makes has an index below;
-- updated_at is kept by trigger for any UPDATE that does not set it.

CREATE OR REPLACE FUNCTION wag_touch_updated_at() RETURNS trigger AS $$
BEGIN
    -- Respect an explicit value; otherwise stamp the time of the change.
    IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

-- One row per WhatsApp account linked (or being linked) to the gateway.
CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,                      -- caller-chosen, [A-Za-z0-9_-]{1,64}
    engine        TEXT NOT NULL DEFAULT 'sandbox',       -- 'sandbox' | 'whatsapp'
    status        TEXT NOT NULL DEFAULT 'created',       -- lifecycle state, see the sessions module
    phone         TEXT,                                  -- linked account's number, once paired
    push_name     TEXT,                                  -- linked account's display name
    metadata      JSONB NOT NULL DEFAULT '{}'::jsonb,    -- per-session settings (pacing, labels)
    last_seen_at  TIMESTAMPTZ,                           -- last activity on the connection
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX sessions_status_idx ON sessions (status);
CREATE TRIGGER sessions_touch BEFORE UPDATE ON sessions
    FOR EACH ROW EXECUTE FUNCTION wag_touch_updated_at();

-- Reusable message bodies with {{variables}}.
CREATE TABLE templates (
    name          TEXT PRIMARY KEY,
    content       TEXT NOT NULL,
    description   TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TRIGGER templates_touch BEFORE UPDATE ON templates
    FOR EACH ROW EXECUTE FUNCTION wag_touch_updated_at();

-- Every message sent or received, with its delivery status.
CREATE TABLE message_logs (
    id              BIGSERIAL PRIMARY KEY,
    session_id      TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    direction       TEXT NOT NULL CHECK (direction IN ('incoming', 'outgoing')),
    message_id      TEXT NOT NULL,                       -- the gateway's id (also the job id)
    wa_message_id   TEXT,                                -- WhatsApp's id, once known
    chat_jid        TEXT NOT NULL,                       -- recipient (outgoing) or chat (incoming)
    message_type    TEXT NOT NULL,                       -- text, image, ...
    content_preview TEXT,                                -- first characters, for listings
    status          TEXT NOT NULL,                       -- queued, sent, delivered, read, failed, received
    error           TEXT,                                -- why it failed
    request_id      TEXT,                                -- the API request that queued it
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT message_logs_session_message_key UNIQUE (session_id, message_id)
);
CREATE INDEX message_logs_session_id_idx ON message_logs (session_id, id DESC);
CREATE INDEX message_logs_session_chat_idx ON message_logs (session_id, chat_jid, id DESC);
CREATE INDEX message_logs_session_wa_idx ON message_logs (session_id, wa_message_id) WHERE wa_message_id IS NOT NULL;
CREATE INDEX message_logs_created_at_idx ON message_logs (created_at);
CREATE TRIGGER message_logs_touch BEFORE UPDATE ON message_logs
    FOR EACH ROW EXECUTE FUNCTION wag_touch_updated_at();

-- Webhook subscriptions of a session.
CREATE TABLE webhooks (
    id            TEXT PRIMARY KEY,                      -- wh_...
    session_id    TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    url           TEXT NOT NULL,
    events        JSONB NOT NULL DEFAULT '["*"]'::jsonb, -- event filter
    secret        TEXT NOT NULL,                         -- whsec_..., signing key
    headers       JSONB NOT NULL DEFAULT '{}'::jsonb,    -- extra headers sent with each delivery
    enabled       BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_session_idx ON webhooks (session_id, created_at);
CREATE TRIGGER webhooks_touch BEFORE UPDATE ON webhooks
    FOR EACH ROW EXECUTE FUNCTION wag_touch_updated_at();

-- One row per event per receiver: the audit trail and the dead-letter list.
CREATE TABLE webhook_deliveries (
    id                BIGSERIAL PRIMARY KEY,
    session_id        TEXT NOT NULL,                     -- no FK: the trail outlives the session
    webhook_id        TEXT,                              -- NULL for the global webhook from config
    webhook_url       TEXT NOT NULL,
    event_id          TEXT NOT NULL,                     -- Standard Webhooks webhook-id
    event_type        TEXT NOT NULL,
    payload           JSONB NOT NULL,
    status            TEXT NOT NULL DEFAULT 'pending',   -- pending, delivered, failed, dead
    attempts          INTEGER NOT NULL DEFAULT 0,
    last_attempt_at   TIMESTAMPTZ,
    last_status_code  INTEGER,
    last_error        TEXT,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_session_idx ON webhook_deliveries (session_id, id DESC);
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, id DESC);
CREATE INDEX webhook_deliveries_status_idx ON webhook_deliveries (status, id DESC);
CREATE TRIGGER webhook_deliveries_touch BEFORE UPDATE ON webhook_deliveries
    FOR EACH ROW EXECUTE FUNCTION wag_touch_updated_at();

-- Audit trail of session lifecycle changes.
CREATE TABLE session_events (
    id            BIGSERIAL PRIMARY KEY,
    session_id    TEXT NOT NULL,                         -- no FK: the trail outlives the session
    event_type    TEXT NOT NULL,
    details       JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX session_events_session_idx ON session_events (session_id, id DESC);
CREATE INDEX session_events_created_at_idx ON session_events (created_at);
