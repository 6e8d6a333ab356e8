-- The live queue: integration tokens, calendars, versioned policies, settings, and
-- conversations with the events they were folded from.
CREATE TABLE api_tokens (
    id            {id},
    name          TEXT        NOT NULL,
    role          TEXT        NOT NULL CHECK (role IN ('admin', 'agent', 'manager')),
    token_hash    TEXT        NOT NULL UNIQUE,
    created_at    {ts}        NOT NULL,
    revoked_at    {ts}
);

CREATE TABLE calendars (
    id            {id},
    name          TEXT        NOT NULL,
    description   TEXT        NOT NULL DEFAULT '',
    definition    TEXT        NOT NULL,
    created_at    {ts}        NOT NULL,
    updated_at    {ts}        NOT NULL
);

CREATE TABLE policies (
    id              {id},
    current_version {bigint}    NOT NULL,
    deleted         BOOLEAN     NOT NULL DEFAULT {false},
    created_at      {ts}        NOT NULL
);

CREATE TABLE policy_versions (
    policy_id     {bigint}    NOT NULL REFERENCES policies(id),
    version       {bigint}    NOT NULL,
    name          TEXT        NOT NULL,
    description   TEXT        NOT NULL DEFAULT '',
    calendar_id   {bigint}    REFERENCES calendars(id),
    definition    TEXT        NOT NULL,
    created_at    {ts}        NOT NULL,
    PRIMARY KEY (policy_id, version)
);

CREATE TABLE settings (
    key           TEXT        PRIMARY KEY,
    value         TEXT        NOT NULL
);

CREATE TABLE conversations (
    id             {id},
    external_id    TEXT        NOT NULL UNIQUE,
    policy_id      {bigint},
    policy_version {bigint},
    status         TEXT        NOT NULL,
    channel        TEXT        NOT NULL,
    team           TEXT,
    owner          TEXT,
    summary        TEXT        NOT NULL,
    due_at         {ts},
    created_at     {ts}        NOT NULL,
    updated_at     {ts}        NOT NULL
);
CREATE INDEX conversations_status_due ON conversations(status, due_at);

CREATE TABLE events (
    id              {id},
    external_id     TEXT        NOT NULL UNIQUE,
    conversation_id {bigint}    NOT NULL REFERENCES conversations(id),
    at              {ts}        NOT NULL,
    payload         TEXT        NOT NULL,
    received_at     {ts}        NOT NULL
);
CREATE INDEX events_conversation ON events(conversation_id, at, id);
