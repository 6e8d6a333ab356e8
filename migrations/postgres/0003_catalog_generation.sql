-- A counter that every write to calendars, policies, policy versions or settings bumps (by
-- triggers, so no write path can forget it). Servers cache the SLA catalog (policies and
-- calendars as the engine needs them) and reload it only when this number moved, which
-- also covers writes made by another server on the same database.
CREATE TABLE catalog_generation (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    generation  BIGINT  NOT NULL
);
INSERT INTO catalog_generation (id, generation) VALUES (1, 0);

CREATE FUNCTION bump_catalog_generation() RETURNS trigger AS $$
BEGIN
    UPDATE catalog_generation SET generation = generation + 1;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER calendars_bump AFTER INSERT OR UPDATE OR DELETE ON calendars
    FOR EACH STATEMENT EXECUTE FUNCTION bump_catalog_generation();
CREATE TRIGGER policies_bump AFTER INSERT OR UPDATE OR DELETE ON policies
    FOR EACH STATEMENT EXECUTE FUNCTION bump_catalog_generation();
CREATE TRIGGER policy_versions_bump AFTER INSERT OR UPDATE OR DELETE ON policy_versions
    FOR EACH STATEMENT EXECUTE FUNCTION bump_catalog_generation();
CREATE TRIGGER settings_bump AFTER INSERT OR UPDATE OR DELETE ON settings
    FOR EACH STATEMENT EXECUTE FUNCTION bump_catalog_generation();
