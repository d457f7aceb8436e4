import { prisma } from "@/server/db/client";
import { env } from "@/server/env";

import { startEventDelivery, type EventDeliveryHandle } from "./interval";
import { retryDelayUpTo } from "./retry-schedule";

let handle: EventDeliveryHandle | undefined;

/**
 * Starts the web server's event deliverer from the environment: every
 * `EVENTS_DELIVERY_INTERVAL_SECONDS` (default 5; 0 turns it off). Returns a line for the log.
 */
export function startServerEventDelivery(): string {
  const {
    EVENTS_DELIVERY_INTERVAL_SECONDS: seconds,
    EVENTS_DELIVERY_TIMEOUT_SECONDS: timeout,
    EVENTS_ALLOW_PRIVATE_URLS,
    EVENTS_MAX_ATTEMPTS,
  } = env();
  if (seconds === 0) return "event delivery off (EVENTS_DELIVERY_INTERVAL_SECONDS=0)";
  handle ??= startEventDelivery(prisma(), {
    intervalMs: seconds * 1000,
    timeoutMs: timeout * 1000,
    policy: { allowPrivate: EVENTS_ALLOW_PRIVATE_URLS },
    retryDelay: retryDelayUpTo(EVENTS_MAX_ATTEMPTS),
  });
  return `event delivery every ${seconds} s`;
}
