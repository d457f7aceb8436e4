-- Monthly ledger partitions that can be archived (issue #16, growth past 100 million rows).
--
-- usage_ledger becomes PARTITION BY RANGE (timestamp): one partition per UTC month in the
-- schema ledger_partitions (kept out of `public`, which schema.prisma describes), plus a
-- DEFAULT partition, so no write is ever refused for a month not created yet (the demo
-- writes 90 days back, the backfill may write older rows). Months are created ahead by
-- usage_ledger_ensure_months (the migrator's maintenance step); usage_ledger_create_month
-- moves a month's rows out of DEFAULT when it creates it.
--
-- A partitioned table's unique keys must contain the partition key, so idempotency forever,
-- UNIQUE (org_id, idempotency_key), moves to its own unpartitioned table,
-- usage_idempotency_keys. Every writer claims the key there and inserts the ledger row only
-- where the claim was new, in ONE statement (src/server/billing/ledger-insert-sql.ts). The
-- key row keeps what a replay is judged by (metric, signed delta) and answers with (reason,
-- the ledger row's id and time), so a replay of a key whose row has been archived still
-- writes nothing and answers as a replay. No foreign key to organizations: the ledger row
-- inserted by the same statement checks the org, and a second check costs the hot path.
--
-- The primary key becomes (id, timestamp). Existing rows are moved (and their keys
-- registered) here; on a large ledger this migration rewrites it once.
--
-- Named to sort before 20261124000900_drop_legacy_usage_column, the cleanup that stays last.

SET LOCAL lock_timeout = '5s';

CREATE SCHEMA IF NOT EXISTS "ledger_partitions";

-- CreateTable
CREATE TABLE "usage_idempotency_keys" (
    "org_id" UUID NOT NULL,
    "idempotency_key" TEXT NOT NULL,
    "ledger_id" UUID NOT NULL,
    "ledger_timestamp" TIMESTAMPTZ(3) NOT NULL,
    "metric" TEXT NOT NULL,
    "delta" BIGINT NOT NULL,
    "reason" TEXT NOT NULL,

    CONSTRAINT "usage_idempotency_keys_pkey" PRIMARY KEY ("org_id","idempotency_key")
);

-- The old table steps aside; its indexes and triggers go with it at the end.
ALTER TABLE "usage_ledger" RENAME TO "usage_ledger_unpartitioned";

CREATE TABLE "usage_ledger" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "org_id" UUID NOT NULL,
    "metric" TEXT NOT NULL,
    "delta" BIGINT NOT NULL,
    "reason" TEXT NOT NULL,
    "timestamp" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "idempotency_key" TEXT,
    "actor" TEXT NOT NULL,
    "metadata" JSONB NOT NULL DEFAULT '{}',
    "tx_id" BIGINT DEFAULT (pg_current_xact_id()::text::bigint)
) PARTITION BY RANGE ("timestamp");

CREATE TABLE "ledger_partitions"."usage_ledger_default" PARTITION OF "usage_ledger" DEFAULT;

-- The partition of the UTC month starting at month_start: "usage_ledger_YYYY_MM".
CREATE FUNCTION "usage_ledger_partition_name"(month_start DATE) RETURNS TEXT
LANGUAGE sql IMMUTABLE AS $$ SELECT 'usage_ledger_' || to_char(month_start, 'YYYY_MM') $$;

-- Creates the partition of one UTC month; false when it exists (or was archived: then its
-- later rows stay in DEFAULT, see usage_ledger_archives). Rows of that month already in
-- DEFAULT are moved into it: the DEFAULT partition is detached and replaced, and its rows
-- re-inserted through the parent (no DELETE: the ledger stays append-only, even here), with
-- their ids and tx_ids (the rollups' bookkeeping) unchanged. One call at a time.
CREATE FUNCTION "usage_ledger_create_month"(month_start DATE) RETURNS BOOLEAN
LANGUAGE plpgsql AS $$
DECLARE
  part TEXT := usage_ledger_partition_name(month_start);
  lo TIMESTAMPTZ := month_start::timestamp AT TIME ZONE 'UTC';
  hi TIMESTAMPTZ := (month_start + INTERVAL '1 month')::timestamp AT TIME ZONE 'UTC';
  cols TEXT := 'id, org_id, metric, delta, reason, "timestamp", idempotency_key, actor, metadata, tx_id';
BEGIN
  IF date_trunc('month', month_start) <> month_start THEN
    RAISE EXCEPTION 'usage_ledger_create_month: % is not the first day of a month', month_start;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext('usage_ledger_partitions'));
  IF to_regclass(format('ledger_partitions.%I', part)) IS NOT NULL
     OR EXISTS (SELECT 1 FROM usage_ledger_archives a WHERE a.month = month_start) THEN
    RETURN FALSE;
  END IF;
  IF EXISTS (SELECT 1 FROM ledger_partitions.usage_ledger_default WHERE "timestamp" >= lo AND "timestamp" < hi) THEN
    ALTER TABLE usage_ledger DETACH PARTITION ledger_partitions.usage_ledger_default;
    ALTER TABLE ledger_partitions.usage_ledger_default RENAME TO usage_ledger_default_moving;
    CREATE TABLE ledger_partitions.usage_ledger_default PARTITION OF usage_ledger DEFAULT;
    CREATE TRIGGER usage_ledger_no_truncate BEFORE TRUNCATE ON ledger_partitions.usage_ledger_default
      FOR EACH STATEMENT EXECUTE FUNCTION usage_ledger_refuse_change();
    EXECUTE format('CREATE TABLE ledger_partitions.%I PARTITION OF usage_ledger FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
    EXECUTE format('INSERT INTO usage_ledger (%s) SELECT %s FROM ledger_partitions.usage_ledger_default_moving', cols, cols);
    DROP TABLE ledger_partitions.usage_ledger_default_moving;
  ELSE
    EXECUTE format('CREATE TABLE ledger_partitions.%I PARTITION OF usage_ledger FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
  END IF;
  -- Row triggers are cloned to partitions; a statement trigger is not: TRUNCATE of a partition.
  EXECUTE format('CREATE TRIGGER usage_ledger_no_truncate BEFORE TRUNCATE ON ledger_partitions.%I
    FOR EACH STATEMENT EXECUTE FUNCTION usage_ledger_refuse_change()', part);
  RETURN TRUE;
END;
$$;

-- The months from `from_month` through `ahead` months after `now_at`'s UTC month, created
-- where missing. Returns how many were created. Idempotent.
CREATE FUNCTION "usage_ledger_ensure_months"(now_at TIMESTAMPTZ, ahead INTEGER, from_month DATE DEFAULT NULL) RETURNS INTEGER
LANGUAGE plpgsql AS $$
DECLARE
  this_month DATE := date_trunc('month', now_at AT TIME ZONE 'UTC')::date;
  m DATE := COALESCE(from_month, this_month);
  created INTEGER := 0;
BEGIN
  WHILE m <= this_month + make_interval(months => ahead) LOOP
    IF usage_ledger_create_month(m) THEN created := created + 1; END IF;
    m := (m + INTERVAL '1 month')::date;
  END LOOP;
  RETURN created;
END;
$$;

-- CreateTable: one row per archived month (the partition is gone; its rows are in the file).
CREATE TABLE "usage_ledger_archives" (
    "month" DATE NOT NULL,
    "rows" BIGINT NOT NULL,
    "file" TEXT NOT NULL,
    "file_sha256" TEXT NOT NULL,
    "archived_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "usage_ledger_archives_pkey" PRIMARY KEY ("month")
);

-- CreateTable: an archived month's sums per org, metric and reason, recorded in the
-- transaction that drops its partition: SUM(ledger) + these = every row ever written.
CREATE TABLE "usage_archived_months" (
    "org_id" UUID NOT NULL,
    "metric" TEXT NOT NULL,
    "month" DATE NOT NULL,
    "reason" TEXT NOT NULL,
    "total" DECIMAL(39,0) NOT NULL,
    "entries" BIGINT NOT NULL,

    CONSTRAINT "usage_archived_months_pkey" PRIMARY KEY ("org_id","metric","month","reason")
);

-- The partitions of every month the existing rows are in, and of this month and the next two.
SELECT usage_ledger_ensure_months(now(), 2,
  (SELECT date_trunc('month', min("timestamp") AT TIME ZONE 'UTC')::date FROM usage_ledger_unpartitioned));

INSERT INTO "usage_ledger" (id, org_id, metric, delta, reason, "timestamp", idempotency_key, actor, metadata, tx_id)
SELECT id, org_id, metric, delta, reason, "timestamp", idempotency_key, actor, metadata, tx_id FROM usage_ledger_unpartitioned;

INSERT INTO "usage_idempotency_keys" (org_id, idempotency_key, ledger_id, ledger_timestamp, metric, delta, reason)
SELECT org_id, idempotency_key, id, "timestamp", metric, delta, reason FROM usage_ledger_unpartitioned
WHERE idempotency_key IS NOT NULL;

DROP TABLE "usage_ledger_unpartitioned";

-- AddPrimaryKey (a partitioned table's keys contain the partition key)
ALTER TABLE "usage_ledger" ADD CONSTRAINT "usage_ledger_pkey" PRIMARY KEY ("id", "timestamp");

-- CreateIndex
CREATE INDEX "usage_ledger_org_id_timestamp_idx" ON "usage_ledger"("org_id", "timestamp");
CREATE INDEX "usage_ledger_timestamp_id_idx" ON "usage_ledger"("timestamp", "id");
CREATE INDEX "usage_ledger_reason_timestamp_id_idx" ON "usage_ledger"("reason", "timestamp", "id");
CREATE INDEX "usage_ledger_tx_id_idx" ON "usage_ledger" USING BRIN ("tx_id");

-- AddForeignKey
ALTER TABLE "usage_ledger" ADD CONSTRAINT "usage_ledger_org_id_fkey" FOREIGN KEY ("org_id") REFERENCES "organizations"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Append-only, as before: the row trigger is cloned to every partition, present and future;
-- TRUNCATE is refused on the parent here and on each partition by usage_ledger_create_month.
CREATE TRIGGER "usage_ledger_append_only"
    BEFORE UPDATE OR DELETE ON "usage_ledger"
    FOR EACH ROW EXECUTE FUNCTION "usage_ledger_refuse_change"();

CREATE TRIGGER "usage_ledger_no_truncate"
    BEFORE TRUNCATE ON "usage_ledger"
    FOR EACH STATEMENT EXECUTE FUNCTION "usage_ledger_refuse_change"();

CREATE TRIGGER "usage_ledger_no_truncate"
    BEFORE TRUNCATE ON "ledger_partitions"."usage_ledger_default"
    FOR EACH STATEMENT EXECUTE FUNCTION "usage_ledger_refuse_change"();
