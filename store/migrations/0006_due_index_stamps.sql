-- Redress schema, version 6: a stamp on the due index of each policy version, so
-- that start-up reads the stored index instead of recomputing it from every open
-- case's snapshot. The stamp names what computed the index entries of the version's
-- open cases (the build and the version's hash); a version whose open cases have no
-- stamp, or another build's, is rebuilt. Written by the service only once every open
-- case of the version has a summary computed as the stamp says.
CREATE TABLE due_index_stamps (
    org         TEXT    NOT NULL,
    policy_hash TEXT    NOT NULL,
    stamp       TEXT    NOT NULL,
    stamped_at  INTEGER NOT NULL,
    PRIMARY KEY (org, policy_hash)
) WITHOUT ROWID;

-- The open cases of each policy version, found (and counted) without reading the
-- cases' rows, whose snapshots make them large.
CREATE INDEX cases_pinned ON cases (closed, org, policy_hash, id);

-- Case counts by stage and clock state (for metrics), from the index alone.
CREATE INDEX cases_counts ON cases (org, policy_id, stage, clock_state);
