-- Finance reads the ledger across organizations newest first, a page at a time: keyset
-- pagination on (timestamp, id) stays fast at millions of rows with these indexes, also
-- when filtered by a rare reason (manual_adjustment, migration).

-- CreateIndex
CREATE INDEX "usage_ledger_timestamp_id_idx" ON "usage_ledger"("timestamp", "id");

-- CreateIndex
CREATE INDEX "usage_ledger_reason_timestamp_id_idx" ON "usage_ledger"("reason", "timestamp", "id");
