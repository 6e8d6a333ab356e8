-- A counter that every write to calendars, policies, policy versions or settings bumps (by
-- triggers, so no write path can forget it). Servers cache the SLA catalog (policies and
-- calendars as the engine needs them) and reload it only when this number moved, which
-- also covers writes made by another server on the same database.
CREATE TABLE catalog_generation (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    generation  INTEGER NOT NULL
);
INSERT INTO catalog_generation (id, generation) VALUES (1, 0);

CREATE TRIGGER calendars_insert_bump AFTER INSERT ON calendars
BEGIN UPDATE catalog_generation SET generation = generation + 1; END;
CREATE TRIGGER calendars_update_bump AFTER UPDATE ON calendars
BEGIN UPDATE catalog_generation SET generation = generation + 1; END;
CREATE TRIGGER calendars_delete_bump AFTER DELETE ON calendars
BEGIN UPDATE catalog_generation SET generation = generation + 1; END;

CREATE TRIGGER policies_insert_bump AFTER INSERT ON policies
BEGIN UPDATE catalog_generation SET generation = generation + 1; END;
CREATE TRIGGER policies_update_bump AFTER UPDATE ON policies
BEGIN UPDATE catalog_generation SET generation = generation + 1; END;
CREATE TRIGGER policies_delete_bump AFTER DELETE ON policies
BEGIN UPDATE catalog_generation SET generation = generation + 1; END;

CREATE TRIGGER policy_versions_insert_bump AFTER INSERT ON policy_versions
BEGIN UPDATE catalog_generation SET generation = generation + 1; END;
CREATE TRIGGER policy_versions_update_bump AFTER UPDATE ON policy_versions
BEGIN UPDATE catalog_generation SET generation = generation + 1; END;
CREATE TRIGGER policy_versions_delete_bump AFTER DELETE ON policy_versions
BEGIN UPDATE catalog_generation SET generation = generation + 1; END;

CREATE TRIGGER settings_insert_bump AFTER INSERT ON settings
BEGIN UPDATE catalog_generation SET generation = generation + 1; END;
CREATE TRIGGER settings_update_bump AFTER UPDATE ON settings
BEGIN UPDATE catalog_generation SET generation = generation + 1; END;
CREATE TRIGGER settings_delete_bump AFTER DELETE ON settings
BEGIN UPDATE catalog_generation SET generation = generation + 1; END;
