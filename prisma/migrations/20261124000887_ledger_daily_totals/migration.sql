-- The ledger per metric, UTC day and reason across all organizations (issue #16): the Ledger
-- page's totals without an org filter read O(days × metrics × reasons) rows instead of every
-- org's usage_daily rows (≈ 900 000 at 10 million ledger rows).
--
-- Kept exact the way usage_daily is: only the fold writes it, in the same statement as the
-- other rollups (src/server/billing/rollup/fold.ts), from the same folded rows, so all of them
-- cover exactly the transactions below usage_rollup_state.through_tx_id; a read adds the
-- unfolded tail in one statement.
--
-- Filled here from usage_daily, which holds exactly the folded rows. The lock on the state
-- row's table waits for a fold in progress and keeps the next one out until this commits, so
-- no fold lands between the copy and the table's first fold (which then goes through fold.ts).
--
-- Named to sort before 20261124000900_drop_legacy_usage_column, the cleanup that stays last.

LOCK TABLE "usage_rollup_state" IN EXCLUSIVE MODE;

-- CreateTable
CREATE TABLE "usage_daily_totals" (
    "metric" TEXT NOT NULL,
    "day" DATE NOT NULL,
    "reason" TEXT NOT NULL,
    "total" DECIMAL(39,0) NOT NULL,
    "entries" BIGINT NOT NULL,

    CONSTRAINT "usage_daily_totals_pkey" PRIMARY KEY ("metric","day","reason")
);

INSERT INTO "usage_daily_totals" ("metric", "day", "reason", "total", "entries")
SELECT "metric", "day", "reason", SUM("total"), SUM("entries")
FROM "usage_daily"
GROUP BY "metric", "day", "reason";
