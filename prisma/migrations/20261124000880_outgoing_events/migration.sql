-- Outgoing events (issue #12): the product app is told when an org nears or hits a limit, or
-- its entitlements or subscription change.
--
-- billing_events is the outbox: a row is inserted in the SAME transaction (for usage, the
-- same statement) as the change that caused it, so an event exists if and only if its change
-- committed. `dedupe_key` makes "exactly one event per (org, metric, threshold, period)" a
-- unique constraint instead of a hope: a second insert for the same crossing does nothing.
-- The deliverer fans each event out to the enabled endpoints subscribed to its type
-- (event_deliveries, one row per event and endpoint) and sends them, claiming with
-- FOR UPDATE SKIP LOCKED; every attempt is kept in event_delivery_attempts.
--
-- Named to sort before 20261124000900_drop_legacy_usage_column, the cleanup that stays last.

-- CreateTable
CREATE TABLE "billing_events" (
    "id" TEXT NOT NULL DEFAULT ('evt_' || replace(gen_random_uuid()::text, '-', '')),
    "seq" BIGINT GENERATED ALWAYS AS IDENTITY,
    "type" TEXT NOT NULL,
    "org_id" UUID NOT NULL,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "payload_version" INTEGER NOT NULL DEFAULT 1,
    "payload" JSONB NOT NULL,
    "dedupe_key" TEXT,
    "dispatched_at" TIMESTAMPTZ(3),

    CONSTRAINT "billing_events_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "billing_events_type" CHECK ("type" IN ('usage.threshold_crossed', 'usage.limit_reached', 'entitlements.changed', 'subscription.changed', 'test.ping'))
);

-- CreateIndex
CREATE UNIQUE INDEX "billing_events_seq_key" ON "billing_events"("seq");

-- CreateIndex
CREATE UNIQUE INDEX "billing_events_org_id_dedupe_key_key" ON "billing_events"("org_id", "dedupe_key");

-- CreateIndex: the deliverer's fan-out reads the events not yet dispatched, oldest first.
CREATE INDEX "billing_events_undispatched_idx" ON "billing_events"("seq") WHERE "dispatched_at" IS NULL;

-- CreateIndex
CREATE INDEX "billing_events_org_id_seq_idx" ON "billing_events"("org_id", "seq");

-- CreateTable. event_types is a nullable column as Prisma makes scalar lists; the CHECK
-- requires it set and not empty.
CREATE TABLE "webhook_endpoints" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "url" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "event_types" TEXT[],
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "secret" TEXT NOT NULL,
    "previous_secret" TEXT,
    "previous_secret_expires_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "webhook_endpoints_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "webhook_endpoints_event_types_not_empty" CHECK ("event_types" IS NOT NULL AND cardinality("event_types") > 0)
);

-- CreateTable
CREATE TABLE "event_deliveries" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "event_id" TEXT NOT NULL,
    "endpoint_id" UUID NOT NULL,
    "org_id" UUID NOT NULL,
    "event_type" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_attempt_at" TIMESTAMPTZ(3),
    "delivered_at" TIMESTAMPTZ(3),
    "response_status" INTEGER,
    "response_body" TEXT,
    "last_error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "event_deliveries_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "event_deliveries_status" CHECK ("status" IN ('pending', 'delivered', 'failed'))
);

-- CreateIndex
CREATE UNIQUE INDEX "event_deliveries_event_id_endpoint_id_key" ON "event_deliveries"("event_id", "endpoint_id");

-- CreateIndex
CREATE INDEX "event_deliveries_status_next_attempt_at_idx" ON "event_deliveries"("status", "next_attempt_at");

-- CreateIndex
CREATE INDEX "event_deliveries_created_at_id_idx" ON "event_deliveries"("created_at", "id");

-- CreateIndex
CREATE INDEX "event_deliveries_endpoint_id_created_at_idx" ON "event_deliveries"("endpoint_id", "created_at");

-- AddForeignKey
ALTER TABLE "event_deliveries" ADD CONSTRAINT "event_deliveries_event_id_fkey" FOREIGN KEY ("event_id") REFERENCES "billing_events"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "event_deliveries" ADD CONSTRAINT "event_deliveries_endpoint_id_fkey" FOREIGN KEY ("endpoint_id") REFERENCES "webhook_endpoints"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- CreateTable
CREATE TABLE "event_delivery_attempts" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "delivery_id" UUID NOT NULL,
    "attempt" INTEGER NOT NULL,
    "attempted_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "duration_ms" INTEGER NOT NULL,
    "response_status" INTEGER,
    "response_body" TEXT,
    "error" TEXT,

    CONSTRAINT "event_delivery_attempts_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "event_delivery_attempts_delivery_id_attempt_key" ON "event_delivery_attempts"("delivery_id", "attempt");

-- AddForeignKey
ALTER TABLE "event_delivery_attempts" ADD CONSTRAINT "event_delivery_attempts_delivery_id_fkey" FOREIGN KEY ("delivery_id") REFERENCES "event_deliveries"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- CreateTable: thresholds an admin set for one org, on top of the plan's defaults (catalogue).
CREATE TABLE "usage_alert_thresholds" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "org_id" UUID NOT NULL,
    "metric" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "value" BIGINT NOT NULL,
    "created_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "usage_alert_thresholds_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "usage_alert_thresholds_kind" CHECK ("kind" IN ('percent', 'absolute')),
    CONSTRAINT "usage_alert_thresholds_value" CHECK ("value" > 0 AND ("kind" = 'absolute' OR "value" <= 1000))
);

-- CreateIndex
CREATE UNIQUE INDEX "usage_alert_thresholds_org_id_metric_kind_value_key" ON "usage_alert_thresholds"("org_id", "metric", "kind", "value");

-- AddForeignKey
ALTER TABLE "usage_alert_thresholds" ADD CONSTRAINT "usage_alert_thresholds_org_id_fkey" FOREIGN KEY ("org_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;
