-- Usage reporting to Dodo Payments. A metered ledger row (a metric with a Dodo meter on the
-- org's current plan) enters this outbox in the SAME statement that inserts the ledger row,
-- so usage is reported if and only if it was recorded. Reporters claim pending rows with
-- FOR UPDATE SKIP LOCKED and send them with event_id = ledger_id (Dodo's idempotency key).

-- CreateTable
CREATE TABLE "usage_report_outbox" (
    "org_id" UUID NOT NULL,
    "ledger_id" UUID NOT NULL,
    "metric" TEXT NOT NULL,
    "event_name" TEXT NOT NULL,
    "customer_id" TEXT NOT NULL,
    "subscription_id" TEXT NOT NULL,
    "quantity" BIGINT NOT NULL,
    "event_timestamp" TIMESTAMPTZ(3) NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_error" TEXT,
    "sent_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "usage_report_outbox_pkey" PRIMARY KEY ("org_id","ledger_id"),
    CONSTRAINT "usage_report_outbox_status" CHECK ("status" IN ('pending', 'sent', 'failed', 'expired')),
    CONSTRAINT "usage_report_outbox_quantity_positive" CHECK ("quantity" > 0)
);

-- CreateIndex
CREATE UNIQUE INDEX "usage_report_outbox_ledger_id_key" ON "usage_report_outbox"("ledger_id");

-- CreateIndex
CREATE INDEX "usage_report_outbox_status_next_attempt_at_idx" ON "usage_report_outbox"("status", "next_attempt_at");

-- CreateIndex
CREATE INDEX "usage_report_outbox_status_event_timestamp_idx" ON "usage_report_outbox"("status", "event_timestamp");
