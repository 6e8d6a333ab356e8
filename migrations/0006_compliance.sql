-- Contract compliance: contracts, the team → department mapping, and one row of facts per
-- conversation (written with its derived columns) that the compliance query aggregates.
CREATE TABLE contracts (
    id          {id},
    definition  TEXT        NOT NULL,
    created_at  {ts}        NOT NULL,
    updated_at  {ts}        NOT NULL
);

CREATE TABLE team_departments (
    team_key    TEXT        PRIMARY KEY,
    team        TEXT        NOT NULL,
    department  TEXT        NOT NULL
);

-- @sqlite
-- Clustered (WITHOUT ROWID) by month of creation (year × 12 + month − 1, UTC), channel, team
-- and owner (`team_g`/`owner_g`: '' for none): a period's rows are a few ranges already in
-- the order the compliance query groups them, so it aggregates without sorting. Times are
-- Unix seconds; *_key columns are normalised (trimmed, lower case) for scopes. The columns
-- the aggregate reads come first in each record.
-- @postgres
-- Month of creation (year × 12 + month − 1, UTC), channel, team and owner (`team_g`/`owner_g`:
-- '' for none) are the compliance query's grouping. Times are Unix seconds; *_key columns are
-- normalised (trimmed, lower case) for scopes.
-- @end
CREATE TABLE conversation_facts (
    month            {bigint}    NOT NULL,
    channel          TEXT        NOT NULL,
    team_g           TEXT        NOT NULL,
    owner_g          TEXT        NOT NULL,
    created_s        {bigint}    NOT NULL,
    conversation_id  {bigint}    NOT NULL REFERENCES conversations(id),
    first_response_s {bigint},
    abandoned_s      {bigint},
    frt_met          {bigint}    NOT NULL,
    frt_missed       {bigint}    NOT NULL,
    frt_due          {bigint},
    nrt_met          {bigint}    NOT NULL,
    nrt_missed       {bigint}    NOT NULL,
    nrt_due          {bigint},
    rt_met           {bigint}    NOT NULL,
    rt_missed        {bigint}    NOT NULL,
    rt_due           {bigint},
    csat_n           {bigint}    NOT NULL,
    csat_pos         {bigint}    NOT NULL,
    nps_n            {bigint}    NOT NULL,
    nps_net          {bigint}    NOT NULL,
    ces_n            {bigint}    NOT NULL,
    ces_sum          {bigint}    NOT NULL,
    team             TEXT,
    team_key         TEXT,
    owner            TEXT,
    policy_id        {bigint},
    email_host       TEXT,
    labels_key       TEXT        NOT NULL,
-- @sqlite
    PRIMARY KEY (month, channel, team_g, owner_g, created_s, conversation_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX conversation_facts_conversation ON conversation_facts(conversation_id);
-- @postgres
    PRIMARY KEY (conversation_id)
);
CREATE INDEX conversation_facts_created ON conversation_facts(month, created_s);
-- @end
