-- Automation rules, in the order they run, and the record of their firings. `definition` is
-- the rule's JSON (`promptly::rules::RuleDefinition`); `position` orders the rules (0, 1, ...
-- after a reorder; ties by id). `rule_runs` is written by the automation worker, one row per
-- rule that fired for a conversation, and read for the rules page's counts.
CREATE TABLE rules (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    position      INTEGER NOT NULL,
    definition    TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL
);
CREATE INDEX rules_position ON rules(position, id);

CREATE TABLE rule_runs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    rule_id         INTEGER NOT NULL,
    conversation_id INTEGER NOT NULL,
    trigger         TEXT    NOT NULL,
    fired_at        TEXT    NOT NULL
);
CREATE INDEX rule_runs_rule_fired ON rule_runs(rule_id, fired_at);

-- Servers cache the rules with the SLA catalog: a rule change moves the generation too
-- (see 0003_catalog_generation.sql).
CREATE TRIGGER rules_insert_bump AFTER INSERT ON rules
BEGIN UPDATE catalog_generation SET generation = generation + 1; END;
CREATE TRIGGER rules_update_bump AFTER UPDATE ON rules
BEGIN UPDATE catalog_generation SET generation = generation + 1; END;
CREATE TRIGGER rules_delete_bump AFTER DELETE ON rules
BEGIN UPDATE catalog_generation SET generation = generation + 1; END;
