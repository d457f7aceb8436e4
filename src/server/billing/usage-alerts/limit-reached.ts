import { Prisma } from "@/server/db/client";
import type { RawQuery } from "@/server/db/raw-query";

import type { Decision } from "../policy";

/**
 * A refused consume: the denial row (entitlement_denials, counted on the dashboard) and, when a
 * hard limit refused it, the `usage.limit_reached` event — in ONE statement, so the event
 * exists if and only if the denial was recorded. At most one event per (org, metric, period):
 * its dedupe key names the window (a period counter's start; a gauge's UTC month), and a later
 * denial in the same period only adds its row to the count.
 */

export interface DeniedConsume {
  orgId: string;
  action: string;
  metric: string | null;
  amount: bigint;
  decision: Decision;
  actor: string;
  at: Date;
}

/** Reasons that mean a hard limit refused the consume (a soft limit never refuses). */
const HARD_LIMIT_REASONS = new Set(["limit_exceeded", "over_limit_after_downgrade"]);

/** The period a limit_reached event is deduplicated in: the window, else the UTC month (gauges). */
export function limitReachedPeriod(decision: Decision, at: Date): string {
  return decision.windowStart ? decision.windowStart.toISOString() : at.toISOString().slice(0, 7);
}

export async function recordDenial(run: RawQuery, d: DeniedConsume): Promise<void> {
  const { decision } = d;
  const code = decision.reason?.code ?? "denied";
  const hardLimit = d.metric !== null && decision.limitKind === "hard" && HARD_LIMIT_REASONS.has(code);
  const payload = hardLimit
    ? JSON.stringify({
        metric: d.metric,
        action: d.action,
        reason: code,
        limit: decision.limit?.toString() ?? null,
        used: decision.used?.toString() ?? null,
        requested: d.amount.toString(),
        windowStart: decision.windowStart?.toISOString() ?? null,
        windowEnd: decision.windowEnd?.toISOString() ?? null,
      })
    : null;
  await run(Prisma.sql`
    WITH denial AS (
      INSERT INTO entitlement_denials (org_id, action, metric, amount, reason_code, message, actor, created_at)
      VALUES (${d.orgId}::uuid, ${d.action}, ${d.metric}, ${d.amount}::bigint, ${code}, ${decision.reason?.message ?? ""}, ${d.actor}, ${d.at}::timestamptz)
      RETURNING id
    )
    INSERT INTO billing_events (type, org_id, occurred_at, payload, dedupe_key)
    SELECT 'usage.limit_reached', ${d.orgId}::uuid, ${d.at}::timestamptz, ${payload}::jsonb,
           ${`limit_reached:${d.metric}:${limitReachedPeriod(decision, d.at)}`}
    FROM denial WHERE ${hardLimit}::boolean
    ON CONFLICT DO NOTHING`);
}
