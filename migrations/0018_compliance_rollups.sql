-- Compliance rollups: per contract definition (its scope and metric kinds, `def`), the
-- group counts of the conversations created in a month (span 0, `bucket` = year × 12 +
-- month − 1) or an ISO week (span 1, `bucket` = the Unix second its Monday starts), by
-- channel, team and owner: `n` conversations, and a numerator and a denominator (`n0`, `d0`, …)
-- per metric of the definition (up to `promptly::limits::CONTRACT_METRICS`). A clock still
-- running is counted as not yet run out; a read adds what the clocks that ran out since
-- their conversation was written change (from `conversation_facts_running`).
--
-- Rows are deltas: each write of facts appends minus the old and plus the new counts, and
-- compaction merges a key's rows into one. A period sums its rows.
CREATE TABLE compliance_rollup_defs (
    id   {id},
    def  TEXT NOT NULL UNIQUE
);
CREATE TABLE compliance_rollups (
    id       {id},
    def_id   {bigint} NOT NULL REFERENCES compliance_rollup_defs(id),
    span     {bigint} NOT NULL,
    bucket   {bigint} NOT NULL,
    channel  TEXT     NOT NULL,
    team     TEXT,
    owner    TEXT,
    n        {bigint} NOT NULL,
    n0 {bigint}, d0 {bigint},
    n1 {bigint}, d1 {bigint},
    n2 {bigint}, d2 {bigint},
    n3 {bigint}, d3 {bigint},
    n4 {bigint}, d4 {bigint},
    n5 {bigint}, d5 {bigint},
    n6 {bigint}, d6 {bigint},
    n7 {bigint}, d7 {bigint},
    n8 {bigint}, d8 {bigint},
    n9 {bigint}, d9 {bigint},
    n10 {bigint}, d10 {bigint},
    n11 {bigint}, d11 {bigint},
    n12 {bigint}, d12 {bigint},
    n13 {bigint}, d13 {bigint},
    n14 {bigint}, d14 {bigint},
    n15 {bigint}, d15 {bigint},
    n16 {bigint}, d16 {bigint},
    n17 {bigint}, d17 {bigint},
    n18 {bigint}, d18 {bigint},
    n19 {bigint}, d19 {bigint},
    n20 {bigint}, d20 {bigint},
    n21 {bigint}, d21 {bigint},
    n22 {bigint}, d22 {bigint},
    n23 {bigint}, d23 {bigint},
    n24 {bigint}, d24 {bigint},
    n25 {bigint}, d25 {bigint},
    n26 {bigint}, d26 {bigint},
    n27 {bigint}, d27 {bigint},
    n28 {bigint}, d28 {bigint},
    n29 {bigint}, d29 {bigint},
    n30 {bigint}, d30 {bigint},
    n31 {bigint}, d31 {bigint},
    n32 {bigint}, d32 {bigint},
    n33 {bigint}, d33 {bigint},
    n34 {bigint}, d34 {bigint},
    n35 {bigint}, d35 {bigint},
    n36 {bigint}, d36 {bigint},
    n37 {bigint}, d37 {bigint},
    n38 {bigint}, d38 {bigint},
    n39 {bigint}, d39 {bigint},
    n40 {bigint}, d40 {bigint},
    n41 {bigint}, d41 {bigint},
    n42 {bigint}, d42 {bigint},
    n43 {bigint}, d43 {bigint},
    n44 {bigint}, d44 {bigint},
    n45 {bigint}, d45 {bigint},
    n46 {bigint}, d46 {bigint},
    n47 {bigint}, d47 {bigint},
    n48 {bigint}, d48 {bigint},
    n49 {bigint}, d49 {bigint}
);
-- A bucket's rows in the order a read groups them.
CREATE INDEX compliance_rollups_bucket ON compliance_rollups(def_id, span, bucket, channel, team,
    owner);
-- The rows with a clock running, covered and in the order a read groups them: a read of them
-- touches no other page and sorts nothing.
-- @sqlite
CREATE INDEX conversation_facts_running ON conversation_facts(month, channel, team_g, owner_g,
    created_s, team, owner, team_key, policy_id, email_host, labels_key,
    first_response_s, abandoned_s, frt_met, frt_missed, frt_due, nrt_met, nrt_missed, nrt_due,
    rt_met, rt_missed, rt_due, csat_n, csat_pos, nps_n, nps_net, ces_n, ces_sum)
-- @postgres
CREATE INDEX conversation_facts_running ON conversation_facts(month, channel, team_g, owner_g,
    created_s) INCLUDE (team, owner, team_key, policy_id, email_host, labels_key,
    first_response_s, abandoned_s, frt_met, frt_missed, frt_due, nrt_met, nrt_missed, nrt_due,
    rt_met, rt_missed, rt_due, csat_n, csat_pos, nps_n, nps_net, ces_n, ces_sum)
-- @end
    WHERE frt_due IS NOT NULL OR nrt_due IS NOT NULL OR rt_due IS NOT NULL;
