-- Phase A of the billing migration: the append-only usage ledger and the usage cache it
-- keeps exact. Nothing reads them until the backfill has proved the counts.

-- CreateTable
CREATE TABLE "usage_cache" (
    "org_id" UUID NOT NULL,
    "metric" TEXT NOT NULL,
    "count" BIGINT NOT NULL DEFAULT 0,
    "last_updated" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "usage_cache_pkey" PRIMARY KEY ("org_id","metric"),
    -- Every metric is an amount or a period count: never below zero. The service refuses
    -- such a write with a typed error first; this is the last line of defence.
    CONSTRAINT "usage_cache_count_non_negative" CHECK ("count" >= 0)
);

-- CreateTable
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

    CONSTRAINT "usage_ledger_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "usage_ledger_org_id_idempotency_key_key" ON "usage_ledger"("org_id", "idempotency_key");

-- CreateIndex
CREATE INDEX "usage_ledger_org_id_timestamp_idx" ON "usage_ledger"("org_id", "timestamp");

-- AddForeignKey
ALTER TABLE "usage_cache" ADD CONSTRAINT "usage_cache_org_id_fkey" FOREIGN KEY ("org_id") REFERENCES "organizations"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "usage_ledger" ADD CONSTRAINT "usage_ledger_org_id_fkey" FOREIGN KEY ("org_id") REFERENCES "organizations"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- The ledger is append-only: corrections are new rows. The database itself refuses any
-- UPDATE, DELETE or TRUNCATE, whoever asks.
CREATE FUNCTION "usage_ledger_refuse_change"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'usage_ledger is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation', HINT = 'Write a correcting row instead.';
END;
$$;

CREATE TRIGGER "usage_ledger_append_only"
    BEFORE UPDATE OR DELETE ON "usage_ledger"
    FOR EACH ROW EXECUTE FUNCTION "usage_ledger_refuse_change"();

CREATE TRIGGER "usage_ledger_no_truncate"
    BEFORE TRUNCATE ON "usage_ledger"
    FOR EACH STATEMENT EXECUTE FUNCTION "usage_ledger_refuse_change"();
