-- Accounts: users with a role, server-side sessions, and failed logins for throttling.
CREATE TABLE users (
    id            {id},
    email         TEXT        NOT NULL UNIQUE,
    name          TEXT        NOT NULL DEFAULT '',
    role          TEXT        NOT NULL CHECK (role IN ('admin', 'agent', 'manager')),
    password_hash TEXT        NOT NULL,
    active        BOOLEAN     NOT NULL DEFAULT {true},
    created_at    {ts}        NOT NULL
);

CREATE TABLE sessions (
    token_hash  TEXT        PRIMARY KEY,
    user_id     {bigint}    NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  {ts}        NOT NULL,
    expires_at  {ts}        NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE login_failures (
    id   {id},
    key  TEXT        NOT NULL,
    at   {ts}        NOT NULL
);
CREATE INDEX login_failures_key_at ON login_failures(key, at);
