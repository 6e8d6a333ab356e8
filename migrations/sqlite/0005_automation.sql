-- Automation: SLA instants due per conversation, events waiting for their rules, firing
-- records that make each SLA event and each rule run happen once, the outbox of webhooks
-- and channel messages, and each channel's outbound webhook.
ALTER TABLE conversations ADD COLUMN next_sla_at TEXT;
ALTER TABLE conversations ADD COLUMN sla_done_until TEXT;
CREATE INDEX conversations_next_sla ON conversations(next_sla_at) WHERE next_sla_at IS NOT NULL;

CREATE TABLE automation_queue (
    event_id        INTEGER PRIMARY KEY REFERENCES events(id),
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    enqueued_at     TEXT    NOT NULL
);
CREATE INDEX automation_queue_conversation ON automation_queue(conversation_id);

CREATE TABLE sla_firings (
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    metric          TEXT    NOT NULL,
    cycle           INTEGER NOT NULL,
    event           TEXT    NOT NULL,
    level           INTEGER NOT NULL,
    due_at          TEXT    NOT NULL,
    fired_at        TEXT    NOT NULL,
    late            BOOLEAN NOT NULL,
    PRIMARY KEY (conversation_id, metric, cycle, event, level)
);
CREATE INDEX sla_firings_fired ON sla_firings(fired_at);

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT    NOT NULL CHECK (kind IN ('webhook', 'message')),
    rule_id         INTEGER,
    conversation_id INTEGER NOT NULL,
    url             TEXT    NOT NULL,
    secret          TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT    NOT NULL,
    last_error      TEXT,
    created_at      TEXT    NOT NULL,
    delivered_at    TEXT
);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);

CREATE TABLE channel_outbound (
    channel     TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
