-- Redress schema, version 3: a fingerprint (SHA-256 of the canonical request) kept
-- with each idempotency key, so that a key reused with a different request is
-- refused instead of answered with the first request's outcome. Rows written
-- before this version have none and are not checked.
ALTER TABLE intake_keys ADD COLUMN fingerprint TEXT;
ALTER TABLE case_keys ADD COLUMN fingerprint TEXT;
