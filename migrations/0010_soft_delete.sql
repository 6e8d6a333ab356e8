-- Rules and contracts are referenced by history (rule runs and deliveries name their rule;
-- the audit log names both): deleting one marks it, and it leaves every list and lookup.
ALTER TABLE rules ADD COLUMN deleted_at {ts};
ALTER TABLE contracts ADD COLUMN deleted_at {ts};
