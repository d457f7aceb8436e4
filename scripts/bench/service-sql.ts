import { randomUUID } from "node:crypto";

import type pg from "pg";

import type { Metric } from "@/server/billing/catalogue";
import { severalRowsWriteSql, type SeveralRowsAnswer } from "@/server/billing/consume-several-sql";
import { policyContextSql, readPolicyContext } from "@/server/billing/policy-context";
import { refreshAlertBands, type StaleBand } from "@/server/billing/usage-alerts/alert-band";
import { currentWindow } from "@/server/billing/usage-window";
import type { UsageWindow } from "@/server/billing/windows";
import { viaPool } from "@/server/db/raw-query";

import { CONSUME_ALSO_METRIC } from "./baseline";
import { orgId } from "./setup";

/**
 * The service's OWN statements on the bare pool, without the code around them (issue #17:
 * where the milliseconds go). `check` is the policy read as readPolicyContext sends it;
 * `consume` is that read, then consume's one statement (consume-several-sql.ts) as the
 * service sends it — LEAN, and FULL plus the band's refresh when the lean one refuses, as
 * consume-several.ts does — but no input validation, no policy decisions, no answer shaping.
 * So `service SQL ÷ bare pg` is what the service's statements cost beyond the baseline's
 * minimal SQL (windows, alert bands, the metered-usage outbox), and `service ÷ service SQL`
 * what its code costs.
 */
export interface ServiceSql {
  check(org: string): Promise<void>;
  /** Throws when nothing was written: on the bench's enterprise orgs (unlimited, cache rows made
   * by setup.ts) every consume writes, so a write that did not is a broken figure, not a denial. */
  consume(org: string): Promise<void>;
}

const OWN_METRIC = "api_calls";

export async function serviceSql(pool: pg.Pool): Promise<ServiceSql> {
  const run = viaPool(pool);
  // Every bench org has the same subscription period (setup.ts creates them in one statement),
  // so one org's subscription gives every org's windows.
  const context = await readPolicyContext(run, orgId(1), new Date());
  if (!context) throw new Error("service SQL: the bench's first org is missing");
  const { subscription } = context;
  const metrics: [Metric, Metric] = [OWN_METRIC, CONSUME_ALSO_METRIC];
  return {
    async check(org) {
      await run(policyContextSql(org, new Date()));
    },
    async consume(org) {
      const now = new Date();
      await run(policyContextSql(org, now));
      const windows: Partial<Record<Metric, UsageWindow>> = {};
      for (const metric of metrics) {
        const window = currentWindow(metric, subscription, now);
        if (window) windows[metric] = window;
      }
      const write = (variant: "lean" | "full") =>
        run<SeveralRowsAnswer>(
          severalRowsWriteSql({
            orgId: org,
            delta: 1n,
            reason: "api_call",
            idempotencyKey: randomUUID(),
            actor: "bench-service-sql",
            metadata: { action: "api.call" },
            now,
            metrics,
            windows,
            caps: {}, // the enterprise plan: unlimited
            variant,
          }),
        );
      let rows = await write("lean");
      if (rows[0]?.band_refused) {
        rows = await write("full");
        await refreshAlertBands(run, rows[0]?.stale_bands as StaleBand[] | null, now, { afterCommit: true });
      }
      if (!rows.some((r) => r.id)) throw new Error(`service SQL: consume on ${org} wrote nothing: ${JSON.stringify(rows[0] ?? null)}`);
    },
  };
}
