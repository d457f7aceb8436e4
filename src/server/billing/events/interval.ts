import type { PrismaClient } from "@/server/db/client";

import { runEvery, type IntervalHandle } from "../every-interval";
import { deliverEvents, type DeliverOptions, type DeliverResult } from "./deliverer";

export type EventDeliveryHandle = IntervalHandle;

/**
 * Delivers events every `intervalMs` inside a long-running process (the web server), like the
 * usage reporter (usage-reporting/interval.ts): ticks never overlap, a failed tick is logged
 * and the next one tries again. Other deliverers (another server, `npm run deliver-events`)
 * may run at once: they claim disjoint deliveries.
 */
export function startEventDelivery(
  prisma: PrismaClient,
  options: Omit<DeliverOptions, "waitForRetries" | "maxWaitMs"> & { intervalMs: number; log?: (line: string) => void },
): EventDeliveryHandle {
  const log = options.log ?? ((line: string) => console.log(`[events] ${line}`));
  return runEvery(
    options.intervalMs,
    async () => {
      const r: DeliverResult = await deliverEvents(prisma, options);
      return r.attempts > 0 ? `${r.delivered} delivered, ${r.retried} to retry, ${r.failed} failed in ${r.attempts} attempts` : undefined;
    },
    log,
  );
}
