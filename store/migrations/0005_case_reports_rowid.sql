-- Redress schema, version 5: `case_reports` as an ordinary (rowid) table. As a
-- WITHOUT ROWID table each row of facts (about 500 bytes) was past the size SQLite
-- keeps in a page of such a table, so every row read an overflow page too: a
-- quarter's report over 1,000,000 cases spent 4.4 s fetching rows, 1.2 s after this.
-- Same columns, same keys, same index; the rows are copied as they are.
CREATE TABLE case_reports_v5 (
    org         TEXT    NOT NULL,
    case_id     TEXT    NOT NULL,
    policy_id   TEXT    NOT NULL,
    received_at INTEGER NOT NULL,
    closed_at   INTEGER NOT NULL,
    facts       TEXT    NOT NULL,
    PRIMARY KEY (org, case_id)
);
INSERT INTO case_reports_v5 (org, case_id, policy_id, received_at, closed_at, facts)
    SELECT org, case_id, policy_id, received_at, closed_at, facts FROM case_reports;
DROP TABLE case_reports;
ALTER TABLE case_reports_v5 RENAME TO case_reports;
CREATE INDEX case_reports_period ON case_reports (org, policy_id, closed_at, received_at);
