-- Redress schema for PostgreSQL, version 5 (as SQLite's version 5, which rebuilds
-- `case_reports` as a rowid table so that its rows no longer spill onto overflow
-- pages). PostgreSQL's tables are heaps already, so nothing changes here; the
-- version is kept so that both stores' versions mean the same tables.
SELECT 1;
