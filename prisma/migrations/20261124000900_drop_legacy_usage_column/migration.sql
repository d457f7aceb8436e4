-- Step 6 of the billing migration (cleanup): the legacy ad-hoc counters go. The ledger is
-- authoritative since the switchover (Phase C); the backfill has proved, with --verify,
-- cache == SUM(ledger) == the old count for every organization and gauge, and nothing
-- reads or writes organizations.usage any more. Apply it only after that verify passed:
-- the legacy values cannot be recovered afterwards (the backfill keeps working without
-- them; it detects the column).

-- AlterTable
ALTER TABLE "organizations" DROP COLUMN "usage";
