-- The supervisor's page's sign-in sessions, shared by every hub instance on this database.
-- A session is keyed by the SHA-256 digest of its id (the id itself stays in the browser's
-- cookie); it is live while last_seen_us + idle_us and expires_us are both in the future.
-- token_fingerprint identifies the token signed in with (a digest, never the token), so
-- a session ends when its token is removed or changed in the configuration.

CREATE TABLE admin_sessions (
    session_key       TEXT   PRIMARY KEY,
    principal         TEXT   NOT NULL,
    role              TEXT   NOT NULL,
    token_fingerprint TEXT   NOT NULL,
    csrf              TEXT   NOT NULL,
    created_us        BIGINT NOT NULL,
    last_seen_us      BIGINT NOT NULL,
    idle_us           BIGINT NOT NULL,
    expires_us        BIGINT NOT NULL
);
CREATE INDEX admin_sessions_last_seen ON admin_sessions (last_seen_us);

-- The one-shot message of a session's next page; goes with its session.
CREATE TABLE admin_session_flashes (
    session_key TEXT    PRIMARY KEY REFERENCES admin_sessions (session_key) ON DELETE CASCADE,
    ok          BOOLEAN NOT NULL,
    text        TEXT    NOT NULL
);
