-- Redress schema for PostgreSQL, version 5 (as SQLite's version 5, which rebuilds
-- `case_reports` as a rowid table, found by an integer rather than by its text
-- key). PostgreSQL's tables are heaps already, so nothing changes here; the
-- version is kept so that both stores' versions mean the same tables.
SELECT 1;
