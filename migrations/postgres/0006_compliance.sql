-- Contract compliance: contracts, the team → department mapping, and one row of facts per
-- conversation (written with its derived columns) that the compliance query aggregates.
CREATE TABLE contracts (
    id          BIGSERIAL   PRIMARY KEY,
    definition  TEXT        NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE team_departments (
    team_key    TEXT        PRIMARY KEY,
    team        TEXT        NOT NULL,
    department  TEXT        NOT NULL
);

-- Month of creation (year × 12 + month − 1, UTC), channel, team and owner (`team_g`/`owner_g`:
-- '' for none) are the compliance query's grouping. Times are Unix seconds; *_key columns are
-- normalised (trimmed, lower case) for scopes.
CREATE TABLE conversation_facts (
    month            BIGINT NOT NULL,
    channel          TEXT    NOT NULL,
    team_g           TEXT    NOT NULL,
    owner_g          TEXT    NOT NULL,
    created_s        BIGINT NOT NULL,
    conversation_id  BIGINT NOT NULL REFERENCES conversations(id),
    first_response_s BIGINT,
    abandoned_s      BIGINT,
    frt_met          BIGINT NOT NULL,
    frt_missed       BIGINT NOT NULL,
    frt_due          BIGINT,
    nrt_met          BIGINT NOT NULL,
    nrt_missed       BIGINT NOT NULL,
    nrt_due          BIGINT,
    rt_met           BIGINT NOT NULL,
    rt_missed        BIGINT NOT NULL,
    rt_due           BIGINT,
    csat_n           BIGINT NOT NULL,
    csat_pos         BIGINT NOT NULL,
    nps_n            BIGINT NOT NULL,
    nps_net          BIGINT NOT NULL,
    ces_n            BIGINT NOT NULL,
    ces_sum          BIGINT NOT NULL,
    team             TEXT,
    team_key         TEXT,
    owner            TEXT,
    policy_id        BIGINT,
    email_host       TEXT,
    labels_key       TEXT    NOT NULL,
    PRIMARY KEY (conversation_id)
);
CREATE INDEX conversation_facts_created ON conversation_facts(month, created_s);
