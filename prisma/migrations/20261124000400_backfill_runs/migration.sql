-- Phase B of the billing migration: the backfill's runs (resumable: a cursor per run) and
-- its diff report, one row per (run, org, metric) that disagreed.

-- CreateTable
CREATE TABLE "backfill_runs" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "mode" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'running',
    "org_prefix" TEXT,
    "cursor" UUID,
    "batch_size" INTEGER NOT NULL,
    "concurrency" INTEGER NOT NULL,
    "orgs_total" INTEGER NOT NULL DEFAULT 0,
    "orgs_scanned" INTEGER NOT NULL DEFAULT 0,
    "mismatches" INTEGER NOT NULL DEFAULT 0,
    "legacy_mismatches" INTEGER NOT NULL DEFAULT 0,
    "deltas_applied" INTEGER NOT NULL DEFAULT 0,
    "cache_repairs" INTEGER NOT NULL DEFAULT 0,
    "remaining" INTEGER,
    "error" TEXT,
    "started_by" TEXT NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "backfill_runs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "backfill_diffs" (
    "run_id" UUID NOT NULL,
    "org_id" UUID NOT NULL,
    "metric" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "legacy_wrong" BOOLEAN NOT NULL,
    "cache_wrong" BOOLEAN NOT NULL,
    "ledger_wrong" BOOLEAN NOT NULL,
    "legacy_value" BIGINT,
    "old_count" BIGINT NOT NULL,
    "cache_before" BIGINT,
    "ledger_before" BIGINT NOT NULL,
    "delta_applied" BIGINT NOT NULL DEFAULT 0,
    "cache_repaired" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "backfill_diffs_pkey" PRIMARY KEY ("run_id","org_id","metric")
);

-- CreateIndex
CREATE INDEX "backfill_runs_mode_started_at_idx" ON "backfill_runs"("mode", "started_at");

-- CreateIndex
CREATE INDEX "backfill_diffs_run_id_kind_idx" ON "backfill_diffs"("run_id", "kind");

-- CreateIndex
CREATE INDEX "backfill_diffs_org_id_idx" ON "backfill_diffs"("org_id");

-- AddForeignKey
ALTER TABLE "backfill_diffs" ADD CONSTRAINT "backfill_diffs_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "backfill_runs"("id") ON DELETE CASCADE ON UPDATE CASCADE;
