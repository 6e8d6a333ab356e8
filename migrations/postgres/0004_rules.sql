-- Automation rules, in the order they run, and the record of their firings. `definition` is
-- the rule's JSON (`promptly::rules::RuleDefinition`); `position` orders the rules (0, 1, ...
-- after a reorder; ties by id). `rule_runs` is written by the automation worker, one row per
-- rule that fired for a conversation, and read for the rules page's counts.
CREATE TABLE rules (
    id            BIGSERIAL   PRIMARY KEY,
    position      BIGINT      NOT NULL,
    definition    TEXT        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX rules_position ON rules(position, id);

CREATE TABLE rule_runs (
    id              BIGSERIAL   PRIMARY KEY,
    rule_id         BIGINT      NOT NULL,
    conversation_id BIGINT      NOT NULL,
    trigger         TEXT        NOT NULL,
    fired_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX rule_runs_rule_fired ON rule_runs(rule_id, fired_at);

-- Servers cache the rules with the SLA catalog: a rule change moves the generation too
-- (see 0003_catalog_generation.sql).
CREATE TRIGGER rules_bump AFTER INSERT OR UPDATE OR DELETE ON rules
    FOR EACH STATEMENT EXECUTE FUNCTION bump_catalog_generation();
