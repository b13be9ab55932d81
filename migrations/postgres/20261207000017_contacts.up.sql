-- The account's contacts as the gateway learns them: the name saved in the
-- address book (through the API, or synced from the phone as WhatsApp's
-- app state) and the push name people chose (carried by their messages).
-- One row per person the session has heard of, kept with the session.
CREATE TABLE contacts (
    session_id   TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    jid          TEXT NOT NULL,
    name         TEXT,
    first_name   TEXT,
    push_name    TEXT,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, jid)
);
