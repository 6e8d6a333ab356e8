-- What became of a send through a channel account: the timeline message it carries (that
-- event's id), and the platform's latest receipt for it ('delivered', 'read' or 'failed'),
-- when it came, and a note in the platform's words (why it failed, or that a template went
-- instead).
ALTER TABLE outbox ADD COLUMN message_id TEXT;
ALTER TABLE outbox ADD COLUMN receipt TEXT;
ALTER TABLE outbox ADD COLUMN receipt_at {ts};
ALTER TABLE outbox ADD COLUMN receipt_note TEXT;
CREATE INDEX outbox_conversation_messages ON outbox(conversation_id) WHERE message_id IS NOT NULL;
