-- Session lifecycle: what the operator asked for (restore at startup only
-- brings back sessions whose desired_state is 'running'), the last failure,
-- and the engine credentials that let a linked session reconnect without a
-- new QR scan.

ALTER TABLE sessions ADD COLUMN desired_state TEXT NOT NULL DEFAULT 'stopped'; -- 'running' | 'stopped'
ALTER TABLE sessions ADD COLUMN last_error TEXT;                               -- why the last attempt failed
CREATE INDEX sessions_desired_state_idx ON sessions (desired_state, id);

-- One row per linked session. `data` is engine-defined; erased on logout.
CREATE TABLE session_credentials (
    session_id  TEXT PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    engine      TEXT NOT NULL,
    data        JSONB NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TRIGGER session_credentials_touch BEFORE UPDATE ON session_credentials
    FOR EACH ROW EXECUTE FUNCTION wag_touch_updated_at();
