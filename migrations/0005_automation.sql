-- Automation: SLA instants due per conversation, events waiting for their rules, firing
-- records that make each SLA event and each rule run happen once, the outbox of webhooks
-- and channel messages, and each channel's outbound webhook.
ALTER TABLE conversations ADD COLUMN next_sla_at {ts};
ALTER TABLE conversations ADD COLUMN sla_done_until {ts};
CREATE INDEX conversations_next_sla ON conversations(next_sla_at) WHERE next_sla_at IS NOT NULL;

CREATE TABLE automation_queue (
    event_id        {bigint}    PRIMARY KEY REFERENCES events(id),
    conversation_id {bigint}    NOT NULL REFERENCES conversations(id),
    enqueued_at     {ts}        NOT NULL
);
CREATE INDEX automation_queue_conversation ON automation_queue(conversation_id);

CREATE TABLE sla_firings (
    conversation_id {bigint}    NOT NULL REFERENCES conversations(id),
    metric          TEXT        NOT NULL,
    cycle           {bigint}    NOT NULL,
    event           TEXT        NOT NULL,
    level           {bigint}    NOT NULL,
    due_at          {ts}        NOT NULL,
    fired_at        {ts}        NOT NULL,
    late            BOOLEAN     NOT NULL,
    PRIMARY KEY (conversation_id, metric, cycle, event, level)
);
CREATE INDEX sla_firings_fired ON sla_firings(fired_at);

CREATE TABLE outbox (
    id              {id},
    kind            TEXT        NOT NULL CHECK (kind IN ('webhook', 'message')),
    rule_id         {bigint},
    conversation_id {bigint}    NOT NULL,
    url             TEXT        NOT NULL,
    secret          TEXT        NOT NULL,
    body            TEXT        NOT NULL,
    status          TEXT        NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        {bigint}    NOT NULL DEFAULT 0,
    next_attempt_at {ts}        NOT NULL,
    last_error      TEXT,
    created_at      {ts}        NOT NULL,
    delivered_at    {ts}
);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);

CREATE TABLE channel_outbound (
    channel     TEXT        PRIMARY KEY,
    url         TEXT        NOT NULL,
    secret      TEXT        NOT NULL,
    updated_at  {ts}        NOT NULL
);
