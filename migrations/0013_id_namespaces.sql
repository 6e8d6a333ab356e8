-- Ids are namespaced by the integration that sent them: a conversation's and an event's
-- `external_id` are unique per `source` (the sending token's integration), no longer across
-- the whole database, so two channels that both send id "1" keep two conversations. What
-- was stored before, and the tokens made before, are in the `default` namespace
-- (`promptly::conversation::DEFAULT_SOURCE`).
--
-- SQLite cannot drop a column's UNIQUE, so both tables are rebuilt inside the migration's
-- transaction: their rows (and AUTOINCREMENT counters) are copied aside, the tables dropped
-- and made again, the rows put back. Foreign keys stay on but are checked at commit
-- (`defer_foreign_keys`): the rows that reference conversations and events find theirs
-- again before then, and a reference that did not would fail the migration.
-- @sqlite
PRAGMA defer_foreign_keys = ON;
CREATE TABLE conversations_copy AS SELECT * FROM conversations;
CREATE TABLE events_copy AS SELECT * FROM events;
CREATE TABLE sequence_copy AS
    SELECT name, seq FROM sqlite_sequence WHERE name IN ('conversations', 'events');
DROP TABLE events;
DROP TABLE conversations;
CREATE TABLE conversations (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    source             TEXT        NOT NULL DEFAULT 'default',
    external_id        TEXT        NOT NULL,
    policy_id          INTEGER,
    policy_version     INTEGER,
    status             TEXT        NOT NULL,
    channel            TEXT        NOT NULL,
    team               TEXT,
    owner              TEXT,
    summary            TEXT        NOT NULL,
    due_at             TEXT,
    created_at         TEXT        NOT NULL,
    updated_at         TEXT        NOT NULL,
    next_sla_at        TEXT,
    sla_done_until     TEXT,
    events_archived_at TEXT,
    UNIQUE (source, external_id)
);
INSERT INTO conversations (id, external_id, policy_id, policy_version, status, channel,
    team, owner, summary, due_at, created_at, updated_at, next_sla_at, sla_done_until,
    events_archived_at)
SELECT id, external_id, policy_id, policy_version, status, channel, team, owner, summary,
    due_at, created_at, updated_at, next_sla_at, sla_done_until, events_archived_at
FROM conversations_copy;
CREATE TABLE events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    source          TEXT        NOT NULL DEFAULT 'default',
    external_id     TEXT        NOT NULL,
    conversation_id INTEGER     NOT NULL REFERENCES conversations(id),
    at              TEXT        NOT NULL,
    payload         TEXT        NOT NULL,
    received_at     TEXT        NOT NULL,
    UNIQUE (source, external_id)
);
INSERT INTO events (id, external_id, conversation_id, at, payload, received_at)
SELECT id, external_id, conversation_id, at, payload, received_at FROM events_copy;
-- Ids of rows deleted before stay used: the tables count on from their old counters.
DELETE FROM sqlite_sequence WHERE name IN ('conversations', 'events');
INSERT INTO sqlite_sequence (name, seq) SELECT name, seq FROM sequence_copy;
DROP TABLE conversations_copy;
DROP TABLE events_copy;
DROP TABLE sequence_copy;
CREATE INDEX conversations_status_due ON conversations(status, due_at);
CREATE INDEX conversations_next_sla ON conversations(next_sla_at) WHERE next_sla_at IS NOT NULL;
CREATE INDEX conversations_resolved ON conversations(updated_at) WHERE status = 'resolved';
CREATE INDEX events_conversation ON events(conversation_id, at, id);
-- @postgres
ALTER TABLE conversations ADD COLUMN source TEXT NOT NULL DEFAULT 'default';
ALTER TABLE conversations DROP CONSTRAINT conversations_external_id_key;
ALTER TABLE conversations ADD CONSTRAINT conversations_source_external_id_key
    UNIQUE (source, external_id);
ALTER TABLE events ADD COLUMN source TEXT NOT NULL DEFAULT 'default';
ALTER TABLE events DROP CONSTRAINT events_external_id_key;
ALTER TABLE events ADD CONSTRAINT events_source_external_id_key UNIQUE (source, external_id);
-- @end
ALTER TABLE api_tokens ADD COLUMN source TEXT NOT NULL DEFAULT 'default';
