-- Redress schema for PostgreSQL, version 2: complainants' tracking links (as
-- SQLite's version 2). A link's token is shown once, when it is issued; only its
-- SHA-256 is kept, so a copy of the database does not open anyone's status page. A
-- revoked link stays, with the instant it was revoked, and no longer opens the page.
-- Looked up by the token's hash alone (the complainant names no organisation): on
-- Citus this table is distributed by `token_sha256` (docs/scaling.md).
CREATE TABLE tracking_links (
    token_sha256 TEXT   NOT NULL PRIMARY KEY, -- hex SHA-256 of the token
    org          TEXT   NOT NULL,
    case_id      TEXT   NOT NULL,
    issued_at    BIGINT NOT NULL,
    revoked_at   BIGINT                       -- NULL while the link works
);
CREATE INDEX tracking_links_case ON tracking_links (org, case_id);
