-- Accounts: users with a role, server-side sessions, and failed logins for throttling.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT    NOT NULL UNIQUE,
    name          TEXT    NOT NULL DEFAULT '',
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'agent', 'manager')),
    password_hash TEXT    NOT NULL,
    active        BOOLEAN NOT NULL DEFAULT 1,
    created_at    TEXT    NOT NULL
);

CREATE TABLE sessions (
    token_hash  TEXT    PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  TEXT    NOT NULL,
    expires_at  TEXT    NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE login_failures (
    id   INTEGER PRIMARY KEY AUTOINCREMENT,
    key  TEXT    NOT NULL,
    at   TEXT    NOT NULL
);
CREATE INDEX login_failures_key_at ON login_failures(key, at);
