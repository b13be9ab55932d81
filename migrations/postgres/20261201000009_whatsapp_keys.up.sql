-- The real engine's key store (whatsapp-rust's storage traits), one table for
-- every map it keeps: Signal identities, sessions and pre-keys, app-state
-- sync keys and MACs, LID mappings, device lists, message secrets and the
-- device itself. `kind` names the map (see src/engine/whatsapp/keys), `scope`
-- groups rows that are listed or cleared together (a group, a collection, a
-- chat), `k` is the key within it, `n1`/`n2` the numbers a map filters on
-- (timestamps, flags). Rows go with their session.
CREATE TABLE wa_keys (
    session_id  TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    kind        SMALLINT NOT NULL,
    scope       TEXT NOT NULL DEFAULT '',
    k           TEXT NOT NULL,
    v           BYTEA NOT NULL,
    n1          BIGINT NOT NULL DEFAULT 0,
    n2          BIGINT,
    PRIMARY KEY (session_id, kind, scope, k)
);
-- Cross-scope lookups by key (sender-key device rows by device).
CREATE INDEX wa_keys_by_k ON wa_keys (session_id, kind, k);
