-- A counter that every write to calendars, policies, policy versions or settings bumps (by
-- triggers, so no write path can forget it). Servers cache the SLA catalog (policies and
-- calendars as the engine needs them) and reload it only when this number moved, which
-- also covers writes made by another server on the same database.
CREATE TABLE catalog_generation (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    generation  {bigint} NOT NULL
);
INSERT INTO catalog_generation (id, generation) VALUES (1, 0);

-- Each `catalog_bump` line below renders as the triggers that bump the counter on every
-- write to its table: on SQLite one row trigger per kind of write, on PostgreSQL one
-- statement trigger calling this function.
-- @postgres
CREATE FUNCTION bump_catalog_generation() RETURNS trigger AS $$
BEGIN
    UPDATE catalog_generation SET generation = generation + 1;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
-- @end

{catalog_bump:calendars}
{catalog_bump:policies}
{catalog_bump:policy_versions}
{catalog_bump:settings}
