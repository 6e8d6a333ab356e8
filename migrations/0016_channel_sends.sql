-- Replies and system messages sent through a channel account (`kind` 'message', as a
-- rule's message to a channel's webhook; the account tells them apart): the account
-- whose credentials the send uses (read at each attempt, so a renewed token is used), and
-- the platform's id for the message once it took it (echoes of it are not counted again).
ALTER TABLE outbox ADD COLUMN account_id {bigint} REFERENCES channel_accounts(id);
ALTER TABLE outbox ADD COLUMN sent_id TEXT;
CREATE INDEX outbox_sent ON outbox(sent_id) WHERE sent_id IS NOT NULL;
