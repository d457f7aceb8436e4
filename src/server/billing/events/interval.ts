import type { PrismaClient } from "@/server/db/client";

import { deliverEvents, type DeliverOptions, type DeliverResult } from "./deliverer";

export interface EventDeliveryHandle {
  /** Stops the timer and waits for a tick in progress to finish. */
  stop(): Promise<void>;
}

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
  let running: Promise<void> | undefined;
  let stopped = false;
  const tick = () => {
    if (running || stopped) return;
    running = deliverEvents(prisma, options)
      .then((r: DeliverResult) => {
        if (r.attempts > 0) log(`${r.delivered} delivered, ${r.retried} to retry, ${r.failed} failed in ${r.attempts} attempts`);
      })
      .catch((error: unknown) => log(`tick failed: ${error instanceof Error ? error.message : String(error)}`))
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(tick, options.intervalMs);
  timer.unref();
  tick();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
