-- The live queue: integration tokens, calendars, versioned policies, settings, and
-- conversations with the events they were folded from.
CREATE TABLE api_tokens (
    id            BIGSERIAL   PRIMARY KEY,
    name          TEXT        NOT NULL,
    role          TEXT        NOT NULL CHECK (role IN ('admin', 'agent', 'manager')),
    token_hash    TEXT        NOT NULL UNIQUE,
    created_at    TIMESTAMPTZ NOT NULL,
    revoked_at    TIMESTAMPTZ
);

CREATE TABLE calendars (
    id            BIGSERIAL   PRIMARY KEY,
    name          TEXT        NOT NULL,
    description   TEXT        NOT NULL DEFAULT '',
    definition    TEXT        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE policies (
    id              BIGSERIAL   PRIMARY KEY,
    current_version BIGINT      NOT NULL,
    deleted         BOOLEAN     NOT NULL DEFAULT FALSE,
    created_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE policy_versions (
    policy_id     BIGINT      NOT NULL REFERENCES policies(id),
    version       BIGINT      NOT NULL,
    name          TEXT        NOT NULL,
    description   TEXT        NOT NULL DEFAULT '',
    calendar_id   BIGINT      REFERENCES calendars(id),
    definition    TEXT        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (policy_id, version)
);

CREATE TABLE settings (
    key           TEXT        PRIMARY KEY,
    value         TEXT        NOT NULL
);

CREATE TABLE conversations (
    id             BIGSERIAL   PRIMARY KEY,
    external_id    TEXT        NOT NULL UNIQUE,
    policy_id      BIGINT,
    policy_version BIGINT,
    status         TEXT        NOT NULL,
    channel        TEXT        NOT NULL,
    team           TEXT,
    owner          TEXT,
    summary        TEXT        NOT NULL,
    due_at         TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX conversations_status_due ON conversations(status, due_at);

CREATE TABLE events (
    id              BIGSERIAL   PRIMARY KEY,
    external_id     TEXT        NOT NULL UNIQUE,
    conversation_id BIGINT      NOT NULL REFERENCES conversations(id),
    at              TIMESTAMPTZ NOT NULL,
    payload         TEXT        NOT NULL,
    received_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX events_conversation ON events(conversation_id, at, id);
