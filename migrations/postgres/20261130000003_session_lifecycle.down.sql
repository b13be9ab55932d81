DROP TABLE IF EXISTS session_credentials;
DROP INDEX IF EXISTS sessions_desired_state_idx;
ALTER TABLE sessions DROP COLUMN IF EXISTS last_error;
ALTER TABLE sessions DROP COLUMN IF EXISTS desired_state;
