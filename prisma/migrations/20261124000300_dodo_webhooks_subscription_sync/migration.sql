-- Dodo Payments: the subscription fields webhooks keep current, every verified webhook
-- delivery keyed by its webhook-id, and the customer → organization mapping.

-- AlterTable
ALTER TABLE "subscriptions" ADD COLUMN     "customer_id" TEXT,
ADD COLUMN     "quantity" INTEGER NOT NULL DEFAULT 1,
ADD COLUMN     "cancel_at_period_end" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "cancelled_at" TIMESTAMPTZ(3),
ADD COLUMN     "expires_at" TIMESTAMPTZ(3),
ADD COLUMN     "last_event_at" TIMESTAMPTZ(3),
ADD COLUMN     "last_event_id" TEXT;

-- CreateTable
CREATE TABLE "webhook_events" (
    "id" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "event_timestamp" TIMESTAMPTZ(3),
    "status" TEXT NOT NULL DEFAULT 'received',
    "error" TEXT,
    "outcome" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "org_id" UUID,
    "subscription_id" TEXT,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "processed_at" TIMESTAMPTZ(3),

    CONSTRAINT "webhook_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "dodo_customers" (
    "customer_id" TEXT NOT NULL,
    "org_id" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "dodo_customers_pkey" PRIMARY KEY ("customer_id")
);

-- CreateIndex
CREATE INDEX "subscriptions_customer_id_idx" ON "subscriptions"("customer_id");

-- CreateIndex
CREATE INDEX "webhook_events_status_received_at_idx" ON "webhook_events"("status", "received_at");

-- CreateIndex
CREATE INDEX "webhook_events_type_received_at_idx" ON "webhook_events"("type", "received_at");

-- CreateIndex
CREATE INDEX "webhook_events_received_at_idx" ON "webhook_events"("received_at");

-- CreateIndex
CREATE INDEX "webhook_events_org_id_received_at_idx" ON "webhook_events"("org_id", "received_at");

-- CreateIndex
CREATE INDEX "dodo_customers_org_id_idx" ON "dodo_customers"("org_id");
