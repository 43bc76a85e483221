-- Redress schema, version 3: what reports need of each case (`CaseFacts`, JSON),
-- written with the case's events by whoever knows its policy. No personal data: the
-- complainant is a keyed hash. `closed_at` is the largest instant while the case is
-- open, so "open at some time since X" is one range on the index.
CREATE TABLE case_reports (
    org         TEXT    NOT NULL,
    case_id     TEXT    NOT NULL,
    policy_id   TEXT    NOT NULL,
    received_at INTEGER NOT NULL,
    closed_at   INTEGER NOT NULL,
    facts       TEXT    NOT NULL,
    PRIMARY KEY (org, case_id)
) WITHOUT ROWID;
CREATE INDEX case_reports_period ON case_reports (org, policy_id, closed_at, received_at);
