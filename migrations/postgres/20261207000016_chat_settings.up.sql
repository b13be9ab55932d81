-- Per-chat settings of an account: archived, pinned, muted (until a time;
-- 'infinity'-like far future for "always"). Set through the API or on the
-- phone (WhatsApp syncs them to linked devices); one row per chat that has
-- any, kept with the session.
CREATE TABLE chat_settings (
    session_id   TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    chat_jid     TEXT NOT NULL,
    archived     BOOLEAN NOT NULL DEFAULT FALSE,
    pinned       BOOLEAN NOT NULL DEFAULT FALSE,
    muted_until  TIMESTAMPTZ,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, chat_jid)
);
