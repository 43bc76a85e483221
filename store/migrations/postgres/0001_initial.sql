-- Redress schema for PostgreSQL, version 1: the same tables as SQLite's, every one
-- keyed by organisation first (the distribution column when the database is a
-- Citus cluster: docs/scaling.md). Instants are BIGINT microseconds since the Unix
-- epoch (UTC), as in SQLite, so that both stores read and order them alike.

-- The event log: the truth. Append-only; never updated or deleted.
CREATE TABLE events (
    org         TEXT   NOT NULL,
    case_id     TEXT   NOT NULL,
    seq         BIGINT NOT NULL,   -- the case version after this event, from 1
    at          BIGINT NOT NULL,   -- the event's instant
    kind        TEXT   NOT NULL,   -- its type (`received`, `moved`, ...)
    event       TEXT   NOT NULL,   -- the event, JSON
    recorded_at BIGINT NOT NULL,   -- when it was written
    PRIMARY KEY (org, case_id, seq)
);

-- Case snapshots: a cache of the fold of each case's events, written in the same
-- transaction as the events, with the columns lists and the scheduler query, and
-- the scheduler's claim (which node fires the case's due timers, until when).
CREATE TABLE cases (
    org           TEXT    NOT NULL,
    id            TEXT    NOT NULL,
    row           BIGINT  GENERATED ALWAYS AS IDENTITY, -- creation order: lists page by it
    policy_id     TEXT    NOT NULL,
    policy_hash   TEXT    NOT NULL,
    version       BIGINT  NOT NULL,
    stage         TEXT    NOT NULL,
    queue         TEXT,
    priority      BIGINT,
    assignee      TEXT,
    closed        BOOLEAN NOT NULL,
    clock_state   TEXT    NOT NULL,
    received_at   BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL,
    next_due      BIGINT,            -- the due index: the earliest pending timer
    claimed_by    TEXT,              -- the node firing its due timers
    claimed_until BIGINT,            -- until when; another node may claim it after
    snapshot      TEXT    NOT NULL,  -- the case, JSON
    PRIMARY KEY (org, id)
);
CREATE INDEX cases_row    ON cases (org, row);
CREATE INDEX cases_due    ON cases (next_due) WHERE next_due IS NOT NULL;
CREATE INDEX cases_claims ON cases (claimed_until) WHERE claimed_until IS NOT NULL;
CREATE INDEX cases_queue  ON cases (org, queue);
CREATE INDEX cases_stage  ON cases (org, stage);
CREATE INDEX cases_clock  ON cases (org, clock_state);
CREATE INDEX cases_open   ON cases (org, id) WHERE NOT closed;

-- Command idempotency keys of each case, with the first and last version their
-- command produced (derived from the events' `key`).
CREATE TABLE case_keys (
    org     TEXT   NOT NULL,
    case_id TEXT   NOT NULL,
    key     TEXT   NOT NULL,
    first   BIGINT NOT NULL,
    last    BIGINT NOT NULL,
    PRIMARY KEY (org, case_id, key)
);

-- Intake idempotency keys: the case each key created.
CREATE TABLE intake_keys (
    org     TEXT NOT NULL,
    key     TEXT NOT NULL,
    case_id TEXT NOT NULL,
    PRIMARY KEY (org, key)
);

-- Every policy version a case was taken in on, with the text of its files.
CREATE TABLE policy_versions (
    org       TEXT   NOT NULL,
    hash      TEXT   NOT NULL,
    policy_id TEXT   NOT NULL,
    version   TEXT   NOT NULL,
    sources   TEXT   NOT NULL,  -- JSON [[name, text], ...], the policy first
    saved_at  BIGINT NOT NULL,
    PRIMARY KEY (org, hash)
);

-- Messages for webhooks, written in the same transaction as the events they tell
-- of. A node claims a message by moving its next attempt to the end of its lease,
-- so a node that dies mid-delivery leaves it due again for another.
CREATE TABLE outbox (
    org          TEXT   NOT NULL,
    id           BIGINT GENERATED ALWAYS AS IDENTITY,
    webhook      TEXT   NOT NULL,
    body         TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt BIGINT,            -- NULL once delivered or given up on
    delivered_at BIGINT,
    last_error   TEXT,
    PRIMARY KEY (org, id)
);
CREATE INDEX outbox_due ON outbox (next_attempt) WHERE next_attempt IS NOT NULL;
