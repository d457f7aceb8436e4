-- Usage alerts without their cost on the hot path (issue #12). Each cache row keeps the band
-- of counts in which no write can fire or re-arm a threshold: below `alert_next` (the lowest
-- level not yet fired in the row's window) and, for a gauge, not below `alert_rearm` (the
-- highest level that has fired). A write whose new count stays in the band, at a time in
-- [alert_valid_from, alert_valid_until), under the same deciding SQL (`alert_basis`, a
-- fingerprint of it), skips the alert decision; any other write decides, sets `alert_next`
-- to NULL ("not known") and bumps `alert_gen`, and the writer then computes the band again
-- (usage-alerts/alert-band.ts) — only if `alert_gen` is still the one it left, so a band is
-- never computed from a snapshot older than the last thing that could change it.
--
-- Whatever moves a level — a subscription, a limit override, an org threshold — forgets the
-- band of the org's rows in the same transaction (the triggers below), so no code path can
-- leave a band standing that hides a crossing. Named to sort before
-- 20261124000900_drop_legacy_usage_column, the cleanup that stays last.

-- AlterTable
ALTER TABLE "usage_cache" ADD COLUMN "alert_next" BIGINT,
ADD COLUMN "alert_rearm" BIGINT,
ADD COLUMN "alert_valid_from" TIMESTAMPTZ(3),
ADD COLUMN "alert_valid_until" TIMESTAMPTZ(3),
ADD COLUMN "alert_basis" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN "alert_gen" BIGINT NOT NULL DEFAULT 0;

-- The org's cache rows, in key order (the order every writer locks them in: no deadlock).
CREATE FUNCTION "usage_alert_band_forget"() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  target_org UUID := COALESCE(NEW.org_id, OLD.org_id);
BEGIN
  PERFORM 1 FROM usage_cache WHERE org_id = target_org ORDER BY metric FOR UPDATE;
  UPDATE usage_cache SET alert_next = NULL, alert_gen = alert_gen + 1 WHERE org_id = target_org;
  IF TG_OP = 'UPDATE' AND OLD.org_id IS DISTINCT FROM NEW.org_id THEN
    PERFORM 1 FROM usage_cache WHERE org_id = OLD.org_id ORDER BY metric FOR UPDATE;
    UPDATE usage_cache SET alert_next = NULL, alert_gen = alert_gen + 1 WHERE org_id = OLD.org_id;
  END IF;
  RETURN NULL;
END;
$$;

CREATE TRIGGER "subscriptions_forget_alert_band"
AFTER INSERT OR UPDATE OR DELETE ON "subscriptions"
FOR EACH ROW EXECUTE FUNCTION "usage_alert_band_forget"();

CREATE TRIGGER "limit_overrides_forget_alert_band"
AFTER INSERT OR UPDATE OR DELETE ON "limit_overrides"
FOR EACH ROW EXECUTE FUNCTION "usage_alert_band_forget"();

CREATE TRIGGER "usage_alert_thresholds_forget_alert_band"
AFTER INSERT OR UPDATE OR DELETE ON "usage_alert_thresholds"
FOR EACH ROW EXECUTE FUNCTION "usage_alert_band_forget"();
