-- Durability: the live stream's epoch, and what the retention purge needs.
--
-- Every server start takes the next epoch (`Store::next_stream_epoch`) and numbers its
-- stream changes above `epoch × 2^32`, so a change number is never used twice on this
-- database, also across restarts: a browser that resumes with the `Last-Event-ID` of a
-- server that has since died is told it missed changes, instead of skipping new ones.
CREATE TABLE stream_epoch (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    epoch  {bigint} NOT NULL
);
INSERT INTO stream_epoch (id, epoch) VALUES (1, 0);

-- When the raw events of a resolved conversation were replaced by their archive (one
-- `conversation.archived` event: the summary and the SLA timeline); a conversation changed
-- since (reopened, a late survey) is archived again once it has been resolved long enough.
ALTER TABLE conversations ADD COLUMN events_archived_at {ts};
CREATE INDEX conversations_resolved ON conversations(updated_at) WHERE status = 'resolved';

-- The purge's scans: delivered outbox items and rule runs by age.
CREATE INDEX outbox_delivered ON outbox(delivered_at) WHERE status = 'delivered';
CREATE INDEX rule_runs_fired ON rule_runs(fired_at);
