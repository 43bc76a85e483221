-- Redress schema, version 2: complainants' tracking links. A link's token is
-- shown once, when it is issued; only its SHA-256 is kept, so a copy of the
-- database does not open anyone's status page. A revoked link stays, with the
-- instant it was revoked, and no longer opens the page.
CREATE TABLE tracking_links (
    token_sha256 TEXT    NOT NULL PRIMARY KEY, -- hex SHA-256 of the token
    org          TEXT    NOT NULL,
    case_id      TEXT    NOT NULL,
    issued_at    INTEGER NOT NULL,
    revoked_at   INTEGER                        -- NULL while the link works
) WITHOUT ROWID;
CREATE INDEX tracking_links_case ON tracking_links (org, case_id);
