-- Step 6 of the billing migration (cleanup): the legacy ad-hoc counters go. The ledger is
-- authoritative since the switchover (Phase C); the backfill has proved, with --verify,
-- cache == SUM(ledger) == the old count for every organization and gauge, and nothing
-- reads or writes organizations.usage any more. The legacy values cannot be recovered
-- afterwards (the backfill keeps working without them; it detects the column).
--
-- `npm start`, `npm run migrate` and `npm run seed` all migrate to the latest, so this
-- migration guards itself: it refuses with SQLSTATE BG001 (the migrator's "not yet": it rolls
-- back and records nothing; `npm start` then serves without it, the others stop) unless the database is a fresh install (no organizations: no legacy
-- values to lose) or the newest completed whole-database verification passed: a
-- `npm run backfill -- --verify` (or an `--apply`, whose closing verification covers the
-- same pairs) without --org-prefix that left 0 (org, metric) pairs differing.

-- The ALTER takes an ACCESS EXCLUSIVE lock on organizations. Queued behind a long
-- transaction it would block every consume (their foreign-key checks lock organizations)
-- for as long as that transaction lasts; give up after 5 s instead: the migration then
-- rolls back and can simply be run again.
SET LOCAL lock_timeout = '5s';

DO $$
DECLARE
  newest RECORD;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM "organizations") THEN
    RETURN;
  END IF;

  SELECT id, mode, remaining INTO newest
  FROM "backfill_runs"
  WHERE status = 'completed' AND org_prefix IS NULL AND mode IN ('verify', 'apply') AND remaining IS NOT NULL
  ORDER BY finished_at DESC, started_at DESC, id DESC
  LIMIT 1;

  IF NOT FOUND THEN
    RAISE EXCEPTION 'Refusing to drop organizations.usage: no whole-database `npm run backfill -- --verify` has passed yet. Follow the migration runbook (migrate with --to 20261124000700_usage_report_outbox until then).'
      USING ERRCODE = 'BG001';
  END IF;
  IF newest.remaining <> 0 THEN
    RAISE EXCEPTION 'Refusing to drop organizations.usage: the newest whole-database verification (% run %) left % (org, metric) pairs differing; `npm run backfill -- --verify` must pass first. Follow the migration runbook (migrate with --to 20261124000700_usage_report_outbox until then).',
      newest.mode, newest.id, newest.remaining
      USING ERRCODE = 'BG001';
  END IF;
END $$;

-- AlterTable
ALTER TABLE "organizations" DROP COLUMN "usage";
