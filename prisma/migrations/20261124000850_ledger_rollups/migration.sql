-- Ledger rollups (issue #16): the dashboard's charts, totals and integrity check read
-- pre-aggregated rows instead of rescanning usage_ledger, and stay exact.
--
-- How they stay exact without costing the hot path a write: every ledger row records the id
-- of the transaction that wrote it (`tx_id`, a plain BIGINT default: no trigger, no extra
-- statement). A fold (src/server/billing/rollup/fold.ts) adds the rows of every transaction
-- that has FINISHED — tx_id below the oldest transaction still running, pg_snapshot_xmin —
-- to usage_daily and usage_rollup_totals, and moves usage_rollup_state.through_tx_id up to
-- that bound. No transaction below the bound can still add rows, so a folded range is final.
-- A read is then "the rollup + the ledger rows with tx_id >= through_tx_id" in ONE statement
-- (one snapshot): exact as of that snapshot, and the tail it scans is small. A BRIN index on
-- tx_id finds the tail: rows are appended in roughly transaction order, and BRIN costs the
-- writer almost nothing.
--
-- Rows written before this migration have tx_id NULL; the first fold (through_tx_id = 0)
-- takes them too. Adding a nullable column and then a default rewrites nothing.
--
-- Named to sort before 20261124000900_drop_legacy_usage_column, the cleanup that stays last.

-- AlterTable
ALTER TABLE "usage_ledger" ADD COLUMN "tx_id" BIGINT;
ALTER TABLE "usage_ledger" ALTER COLUMN "tx_id" SET DEFAULT (pg_current_xact_id()::text::bigint);

-- CreateIndex
CREATE INDEX "usage_ledger_tx_id_idx" ON "usage_ledger" USING BRIN ("tx_id");

-- CreateTable: the ledger per org, metric, UTC day and reason. NUMERIC: one reason's sum
-- over a day may pass 2^63 even though every count stays within it (+2^62 twice, a -2^62
-- in between under another reason).
CREATE TABLE "usage_daily" (
    "org_id" UUID NOT NULL,
    "metric" TEXT NOT NULL,
    "day" DATE NOT NULL,
    "reason" TEXT NOT NULL,
    "total" DECIMAL(39,0) NOT NULL,
    "entries" BIGINT NOT NULL,

    CONSTRAINT "usage_daily_pkey" PRIMARY KEY ("org_id","metric","day","reason")
);

-- CreateTable: SUM(delta) and count per (org, metric) of the folded rows.
CREATE TABLE "usage_rollup_totals" (
    "org_id" UUID NOT NULL,
    "metric" TEXT NOT NULL,
    "total" DECIMAL(39,0) NOT NULL,
    "entries" BIGINT NOT NULL,

    CONSTRAINT "usage_rollup_totals_pkey" PRIMARY KEY ("org_id","metric")
);

-- CreateTable: one row, how far the fold has come.
CREATE TABLE "usage_rollup_state" (
    "id" SMALLINT NOT NULL DEFAULT 1,
    "through_tx_id" BIGINT NOT NULL DEFAULT 0,
    "folded_at" TIMESTAMPTZ(3),
    "rows_folded" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "usage_rollup_state_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "usage_rollup_state_one_row" CHECK ("id" = 1)
);
INSERT INTO "usage_rollup_state" ("id") VALUES (1);

-- The rollup is derived data: only the fold writes it. Its rows are kept per org like the
-- ledger's; they hold no foreign key so a fold never waits on an organization row.
