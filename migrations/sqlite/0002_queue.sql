-- The live queue: integration tokens, calendars, versioned policies, settings, and
-- conversations with the events they were folded from.
CREATE TABLE api_tokens (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'agent', 'manager')),
    token_hash    TEXT    NOT NULL UNIQUE,
    created_at    TEXT    NOT NULL,
    revoked_at    TEXT
);

CREATE TABLE calendars (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL,
    description   TEXT    NOT NULL DEFAULT '',
    definition    TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL
);

CREATE TABLE policies (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    current_version INTEGER NOT NULL,
    deleted       BOOLEAN NOT NULL DEFAULT 0,
    created_at    TEXT    NOT NULL
);

CREATE TABLE policy_versions (
    policy_id     INTEGER NOT NULL REFERENCES policies(id),
    version       INTEGER NOT NULL,
    name          TEXT    NOT NULL,
    description   TEXT    NOT NULL DEFAULT '',
    calendar_id   INTEGER REFERENCES calendars(id),
    definition    TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,
    PRIMARY KEY (policy_id, version)
);

CREATE TABLE settings (
    key           TEXT    PRIMARY KEY,
    value         TEXT    NOT NULL
);

CREATE TABLE conversations (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    external_id   TEXT    NOT NULL UNIQUE,
    policy_id     INTEGER,
    policy_version INTEGER,
    status        TEXT    NOT NULL,
    channel       TEXT    NOT NULL,
    team          TEXT,
    owner         TEXT,
    summary       TEXT    NOT NULL,
    due_at        TEXT,
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL
);
CREATE INDEX conversations_status_due ON conversations(status, due_at);

CREATE TABLE events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    external_id     TEXT    NOT NULL UNIQUE,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    at              TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    received_at     TEXT    NOT NULL
);
CREATE INDEX events_conversation ON events(conversation_id, at, id);
