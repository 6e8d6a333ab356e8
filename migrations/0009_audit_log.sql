-- The audit log: one row per change to settings and accounts (who, when, the record
-- before and after, secrets masked). Append-only: the database refuses to change or
-- remove a row.
CREATE TABLE audit_log (
    id         {id},
    at         {ts}        NOT NULL,
    actor      TEXT        NOT NULL,
    actor_id   {bigint},
    entity     TEXT        NOT NULL,
    entity_id  TEXT,
    action     TEXT        NOT NULL,
    before     TEXT,
    after      TEXT
);
CREATE INDEX audit_log_entity ON audit_log(entity, id);
CREATE INDEX audit_log_actor ON audit_log(actor, id);
-- @sqlite
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
-- @postgres
CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
-- @end
