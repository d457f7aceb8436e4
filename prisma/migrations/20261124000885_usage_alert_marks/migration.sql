-- Usage alerts (issue #12): which thresholds have fired. A write that leaves a count at or
-- above a threshold inserts its mark `ON CONFLICT DO NOTHING` in the same statement as the
-- ledger row, and only an inserted mark inserts the usage.threshold_crossed event: under the
-- cache row's lock, so 32 concurrent writers crossing 80 % produce exactly one event.
--
-- period_start: the window's start for a period counter (one event per threshold and window;
-- a new window needs a new mark), the epoch for a gauge, whose mark is deleted — re-armed —
-- by the write that takes the count back below the threshold.
--
-- Named to sort before 20261124000900_drop_legacy_usage_column, the cleanup that stays last.

-- CreateTable
CREATE TABLE "usage_alert_marks" (
    "org_id" UUID NOT NULL,
    "metric" TEXT NOT NULL,
    "threshold_key" TEXT NOT NULL,
    "period_start" TIMESTAMPTZ(3) NOT NULL,
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "level" BIGINT NOT NULL,
    "fired_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "usage_alert_marks_pkey" PRIMARY KEY ("org_id","metric","threshold_key","period_start")
);
