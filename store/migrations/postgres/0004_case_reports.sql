-- Redress schema for PostgreSQL, version 4 (as SQLite's version 4): what reports
-- need of each case (`CaseFacts`, JSON), written with the case's events. No
-- personal data: the complainant is a keyed hash. `closed_at` is the largest BIGINT
-- while the case is open, so "open at some time since X" is one range on the index.
CREATE TABLE case_reports (
    org         TEXT   NOT NULL,
    case_id     TEXT   NOT NULL,
    policy_id   TEXT   NOT NULL,
    received_at BIGINT NOT NULL,
    closed_at   BIGINT NOT NULL,
    facts       TEXT   NOT NULL,
    PRIMARY KEY (org, case_id)
);
CREATE INDEX case_reports_period ON case_reports (org, policy_id, closed_at, received_at);
