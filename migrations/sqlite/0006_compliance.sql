-- Contract compliance: contracts, the team → department mapping, and one row of facts per
-- conversation (written with its derived columns) that the compliance query aggregates.
CREATE TABLE contracts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    definition  TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);

CREATE TABLE team_departments (
    team_key    TEXT    PRIMARY KEY,
    team        TEXT    NOT NULL,
    department  TEXT    NOT NULL
);

-- Clustered (WITHOUT ROWID) by month of creation (year × 12 + month − 1, UTC), channel, team
-- and owner (`team_g`/`owner_g`: '' for none): a period's rows are a few ranges already in
-- the order the compliance query groups them, so it aggregates without sorting. Times are
-- Unix seconds; *_key columns are normalised (trimmed, lower case) for scopes. The columns
-- the aggregate reads come first in each record.
CREATE TABLE conversation_facts (
    month            INTEGER NOT NULL,
    channel          TEXT    NOT NULL,
    team_g           TEXT    NOT NULL,
    owner_g          TEXT    NOT NULL,
    created_s        INTEGER NOT NULL,
    conversation_id  INTEGER NOT NULL REFERENCES conversations(id),
    first_response_s INTEGER,
    abandoned_s      INTEGER,
    frt_met          INTEGER NOT NULL,
    frt_missed       INTEGER NOT NULL,
    frt_due          INTEGER,
    nrt_met          INTEGER NOT NULL,
    nrt_missed       INTEGER NOT NULL,
    nrt_due          INTEGER,
    rt_met           INTEGER NOT NULL,
    rt_missed        INTEGER NOT NULL,
    rt_due           INTEGER,
    csat_n           INTEGER NOT NULL,
    csat_pos         INTEGER NOT NULL,
    nps_n            INTEGER NOT NULL,
    nps_net          INTEGER NOT NULL,
    ces_n            INTEGER NOT NULL,
    ces_sum          INTEGER NOT NULL,
    team             TEXT,
    team_key         TEXT,
    owner            TEXT,
    policy_id        INTEGER,
    email_host       TEXT,
    labels_key       TEXT    NOT NULL,
    PRIMARY KEY (month, channel, team_g, owner_g, created_s, conversation_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX conversation_facts_conversation ON conversation_facts(conversation_id);
