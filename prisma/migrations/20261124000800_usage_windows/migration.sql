-- Usage windows (issue #15): a period counter's cache row says which window its count
-- belongs to. A write that finds the window over starts the new one in the same statement:
-- a `window_reset` ledger row removes the usage recorded before the new window's start and
-- `window_start` moves to it, so cache == SUM(ledger) still holds and no cron is needed.
--
-- NULL for gauges (they have no window) and for rows written before this migration: their
-- first write, or `npm run windows:catch-up`, brings them into their current window, keeping
-- the usage recorded since its start.
--
-- A nullable column without a default: PostgreSQL records it in the table's definition
-- only (no rewrite), so it is instant on a large usage_cache.
--
-- Named to sort BEFORE the cleanup (20261124000900_drop_legacy_usage_column), which stays the
-- last migration: the cleanup refuses to run until the backfill is verified, and the app
-- needs this column before that (`npm start` applies every migration up to the refused
-- cleanup; the migrator applies a pending migration that sorts before applied ones too).

-- AlterTable
ALTER TABLE "usage_cache" ADD COLUMN "window_start" TIMESTAMPTZ(3);
