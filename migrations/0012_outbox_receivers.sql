-- Deliveries go out a few at a time per receiver, and an attempt's outcome is recorded only
-- under the claim that made it.
--
-- `receiver` is the host and port a delivery goes to (`hooks.example:443`), so that a claim can
-- pass over the receivers that already have their fill of deliveries in flight: one slow
-- receiver does not hold up the others. Rows queued before this version have '' and count as
-- one receiver.
--
-- `lease` names the claim that holds a delivery until `next_attempt_at`; finishing an attempt
-- checks it, so a server whose lease ran out (and whose delivery another server took over)
-- cannot overwrite the newer attempt's outcome.
ALTER TABLE outbox ADD COLUMN receiver TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN lease TEXT;
