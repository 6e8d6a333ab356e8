-- Automation rules, in the order they run, and the record of their firings. `definition` is
-- the rule's JSON (`promptly::rules::RuleDefinition`); `position` orders the rules (0, 1, ...
-- after a reorder; ties by id). `rule_runs` is written by the automation worker, one row per
-- rule that fired for a conversation, and read for the rules page's counts.
CREATE TABLE rules (
    id            {id},
    position      {bigint}    NOT NULL,
    definition    TEXT        NOT NULL,
    created_at    {ts}        NOT NULL,
    updated_at    {ts}        NOT NULL
);
CREATE INDEX rules_position ON rules(position, id);

CREATE TABLE rule_runs (
    id              {id},
    rule_id         {bigint}    NOT NULL,
    conversation_id {bigint}    NOT NULL,
    trigger         TEXT        NOT NULL,
    fired_at        {ts}        NOT NULL
);
CREATE INDEX rule_runs_rule_fired ON rule_runs(rule_id, fired_at);

-- Servers cache the rules with the SLA catalog: a rule change moves the generation too
-- (see 0003_catalog_generation.sql).
{catalog_bump:rules}
