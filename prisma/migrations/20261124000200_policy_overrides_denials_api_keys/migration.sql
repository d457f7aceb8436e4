-- The policy engine's own data: per-org limit overrides, the record of denied consumes,
-- and the product app's API keys (hashed).

-- CreateTable
CREATE TABLE "limit_overrides" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "org_id" UUID NOT NULL,
    "metric" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "value" BIGINT,
    "expires_at" TIMESTAMPTZ(3),
    "note" TEXT NOT NULL,
    "created_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revoked_at" TIMESTAMPTZ(3),

    CONSTRAINT "limit_overrides_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "limit_overrides_kind_value" CHECK (
        ("kind" IN ('hard', 'soft') AND "value" IS NOT NULL AND "value" >= 0)
        OR ("kind" = 'unlimited' AND "value" IS NULL))
);

-- CreateTable
CREATE TABLE "entitlement_denials" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "org_id" UUID NOT NULL,
    "action" TEXT NOT NULL,
    "metric" TEXT,
    "amount" BIGINT NOT NULL,
    "reason_code" TEXT NOT NULL,
    "message" TEXT NOT NULL,
    "actor" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "entitlement_denials_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "api_keys" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "name" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "secret_hash" TEXT NOT NULL,
    "scopes" TEXT[],
    "created_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),

    CONSTRAINT "api_keys_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "limit_overrides_org_id_metric_created_at_idx" ON "limit_overrides"("org_id", "metric", "created_at");

-- CreateIndex
CREATE INDEX "entitlement_denials_org_id_created_at_idx" ON "entitlement_denials"("org_id", "created_at");

-- CreateIndex
CREATE INDEX "entitlement_denials_created_at_idx" ON "entitlement_denials"("created_at");

-- CreateIndex
CREATE UNIQUE INDEX "api_keys_prefix_key" ON "api_keys"("prefix");

-- CreateIndex
CREATE UNIQUE INDEX "api_keys_secret_hash_key" ON "api_keys"("secret_hash");

-- AddForeignKey
ALTER TABLE "limit_overrides" ADD CONSTRAINT "limit_overrides_org_id_fkey" FOREIGN KEY ("org_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;
