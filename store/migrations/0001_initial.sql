-- Redress schema, version 1. Every table is keyed by organisation first.
-- Instants are INTEGER microseconds since the Unix epoch (UTC), so that they order
-- and index as numbers.

-- The event log: the truth. Append-only; never updated or deleted.
CREATE TABLE events (
    org         TEXT    NOT NULL,
    case_id     TEXT    NOT NULL,
    seq         INTEGER NOT NULL,   -- the case version after this event, from 1
    at          INTEGER NOT NULL,   -- the event's instant
    kind        TEXT    NOT NULL,   -- its type (`received`, `moved`, ...)
    event       TEXT    NOT NULL,   -- the event, JSON
    recorded_at INTEGER NOT NULL,   -- when it was written
    PRIMARY KEY (org, case_id, seq)
) WITHOUT ROWID;

-- Case snapshots: a cache of the fold of each case's events, written in the same
-- transaction as the events, with the columns lists and the scheduler query.
CREATE TABLE cases (
    row          INTEGER PRIMARY KEY, -- creation order, kept by VACUUM: lists page by it
    org          TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    policy_id    TEXT    NOT NULL,
    policy_hash  TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    stage        TEXT    NOT NULL,
    queue        TEXT,
    priority     INTEGER,
    assignee     TEXT,
    closed       INTEGER NOT NULL,
    clock_state  TEXT    NOT NULL,
    received_at  INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    next_due     INTEGER,            -- the due index: the earliest pending timer
    snapshot     TEXT    NOT NULL,   -- the case, JSON
    UNIQUE (org, id)
);
CREATE INDEX cases_due   ON cases (next_due) WHERE next_due IS NOT NULL;
CREATE INDEX cases_queue ON cases (org, queue);
CREATE INDEX cases_stage ON cases (org, stage);
CREATE INDEX cases_clock ON cases (org, clock_state);
CREATE INDEX cases_open  ON cases (closed, org, id);

-- Command idempotency keys of each case, with the first and last version their
-- command produced (derived from the events' `key`; kept apart from the snapshot,
-- which would otherwise grow with every command).
CREATE TABLE case_keys (
    org     TEXT    NOT NULL,
    case_id TEXT    NOT NULL,
    key     TEXT    NOT NULL,
    first   INTEGER NOT NULL,
    last    INTEGER NOT NULL,
    PRIMARY KEY (org, case_id, key)
) WITHOUT ROWID;

-- Intake idempotency keys: the case each key created.
CREATE TABLE intake_keys (
    org     TEXT NOT NULL,
    key     TEXT NOT NULL,
    case_id TEXT NOT NULL,
    PRIMARY KEY (org, key)
) WITHOUT ROWID;

-- Every policy version a case was taken in on, with the text of its files, so a
-- running case keeps its version after the files on disk change.
CREATE TABLE policy_versions (
    org       TEXT    NOT NULL,
    hash      TEXT    NOT NULL,
    policy_id TEXT    NOT NULL,
    version   TEXT    NOT NULL,
    sources   TEXT    NOT NULL,  -- JSON [[name, text], ...], the policy first
    saved_at  INTEGER NOT NULL,
    PRIMARY KEY (org, hash)
) WITHOUT ROWID;

-- Messages for webhooks, written in the same transaction as the events they tell
-- of, and delivered (with retries) by the service: the outbox.
CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    org          TEXT    NOT NULL,
    webhook      TEXT    NOT NULL,
    body         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt INTEGER,            -- NULL once delivered or given up on
    delivered_at INTEGER,
    last_error   TEXT
);
CREATE INDEX outbox_due ON outbox (next_attempt) WHERE next_attempt IS NOT NULL;
