-- What a conversation's events fold into (`promptly::conversation::Checkpoint`, JSON: the
-- archive of its events and the latest instant among them), so that an event that comes
-- after all of them is folded onto it instead of re-reading and folding the whole history.
-- NULL until the conversation is next derived from all its events (and whenever a change
-- leaves it stale): the next ingest then reads them all and writes it.
ALTER TABLE conversations ADD COLUMN checkpoint TEXT;
