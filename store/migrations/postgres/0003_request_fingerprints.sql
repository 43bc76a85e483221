-- Redress schema for PostgreSQL, version 3 (as SQLite's version 3): a fingerprint
-- (SHA-256 of the canonical request) kept with each idempotency key, so that a key
-- reused with a different request is refused instead of answered with the first
-- request's outcome, whichever node the retry reaches. Rows written before this
-- version have none and are not checked.
ALTER TABLE intake_keys ADD COLUMN fingerprint TEXT;
ALTER TABLE case_keys ADD COLUMN fingerprint TEXT;
