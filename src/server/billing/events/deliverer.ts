import type { PrismaClient } from "@/server/db/client";

import { claimDue, nextDueAt, recordAttempt, type AttemptOutcome, type ClaimedDelivery } from "./delivery-claims";
import { envelopeBody } from "./envelope";
import { fanOutEvents } from "./fan-out";
import { defaultRetryDelay, MAX_ATTEMPTS, type RetryDelay } from "./retry-schedule";
import { postEvent, type SendResult } from "./send";
import { activeSecrets, signedHeaders } from "./signing";
import type { UrlPolicy } from "./url-safety";

/**
 * The deliverer: fans new events out to their endpoints (fan-out.ts), then claims due
 * deliveries (a lease, delivery-claims.ts), POSTs each signed envelope (send.ts) and records
 * the attempt — 2xx: delivered; anything else: retried on the schedule (retry-schedule.ts),
 * then failed. At least once: a delivery is only `delivered` after a 2xx was recorded, and a
 * claim that was never recorded comes due again when its lease runs out.
 */

export interface DeliverOptions {
  /** Only this organization's events (the server delivers all; a test shares its database). */
  orgId?: string;
  /** Deliveries claimed (and sent concurrently) at a time. */
  batchSize?: number;
  /** Per-request timeout. */
  timeoutMs: number;
  policy: UrlPolicy;
  /** Wait for deliveries that come due within `maxWaitMs` (retries, others' leases) and send them too. */
  waitForRetries?: boolean;
  maxWaitMs?: number;
  retryDelay?: RetryDelay;
  onAttempt?: (delivery: ClaimedDelivery, outcome: AttemptOutcome) => void;
}

export interface DeliverResult {
  fannedOut: number;
  attempts: number;
  delivered: number;
  /** Attempts that failed and were scheduled again. */
  retried: number;
  /** Deliveries that became `failed` (dead letters). */
  failed: number;
}

/**
 * How long a claim holds a delivery: the request's timeout three times over (and a few
 * seconds), so a slow but live deliverer records before anyone else may take the row.
 */
export const leaseMs = (timeoutMs: number): number => timeoutMs * 3 + 2_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function outcomeOf(claimed: ClaimedDelivery, sent: SendResult, attemptedAt: Date, retryDelay: RetryDelay): AttemptOutcome {
  const ok = sent.status !== null && sent.status >= 200 && sent.status < 300;
  const failures = claimed.attempts + 1;
  // A replayed dead letter starts the schedule over: the position in the current round.
  const delay = ok ? null : retryDelay(((failures - 1) % MAX_ATTEMPTS) + 1);
  const error = ok ? null : (sent.error ?? `HTTP ${sent.status}`);
  return {
    status: sent.status,
    body: sent.body,
    error,
    durationMs: sent.durationMs,
    attemptedAt,
    result: ok ? { kind: "delivered" } : delay === null ? { kind: "failed" } : { kind: "retry", retryInMs: delay },
  };
}

/** Sends one claimed delivery and records the attempt. */
export async function attemptDelivery(
  prisma: PrismaClient,
  claimed: ClaimedDelivery,
  options: Pick<DeliverOptions, "timeoutMs" | "policy" | "retryDelay">,
): Promise<AttemptOutcome> {
  const attemptedAt = new Date();
  const body = envelopeBody(claimed.event);
  const headers = signedHeaders(claimed.event.id, body, activeSecrets(claimed.secrets, attemptedAt), attemptedAt);
  const sent = await postEvent(claimed.url, body, headers, { timeoutMs: options.timeoutMs, policy: options.policy });
  const outcome = outcomeOf(claimed, sent, attemptedAt, options.retryDelay ?? defaultRetryDelay);
  await recordAttempt(prisma, claimed, outcome);
  return outcome;
}

export async function deliverEvents(prisma: PrismaClient, options: DeliverOptions): Promise<DeliverResult> {
  const batchSize = options.batchSize ?? 20;
  const result: DeliverResult = { fannedOut: 0, attempts: 0, delivered: 0, retried: 0, failed: 0 };
  const deadline = Date.now() + (options.maxWaitMs ?? 0);
  for (;;) {
    for (;;) {
      const fanned = await fanOutEvents(prisma, { orgId: options.orgId });
      result.fannedOut += fanned.events;
      if (fanned.events === 0) break;
    }
    const claimed = await claimDue(prisma, { batchSize, leaseMs: leaseMs(options.timeoutMs), orgId: options.orgId });
    if (claimed.length > 0) {
      const outcomes = await Promise.all(
        claimed.map(async (c) => {
          const outcome = await attemptDelivery(prisma, c, options);
          options.onAttempt?.(c, outcome);
          return outcome;
        }),
      );
      for (const o of outcomes) {
        result.attempts += 1;
        if (o.result.kind === "delivered") result.delivered += 1;
        else if (o.result.kind === "retry") result.retried += 1;
        else result.failed += 1;
      }
      continue;
    }
    if (!options.waitForRetries) break;
    const due = await nextDueAt(prisma, options.orgId);
    if (!due) break;
    const wait = Math.max(0, due.getTime() - Date.now());
    if (Date.now() + wait > deadline) break;
    await sleep(Math.min(wait + 20, 1_000));
  }
  return result;
}

/** Deliveries of a run's scope still pending (the run's unfinished business). */
export async function countPending(prisma: PrismaClient, orgId: string | undefined): Promise<number> {
  const [row] = await prisma.$queryRaw<{ n: bigint }[]>`
    SELECT count(*) AS n FROM event_deliveries WHERE status = 'pending' AND (${orgId ?? null}::uuid IS NULL OR org_id = ${orgId ?? null}::uuid)`;
  return Number(row?.n ?? 0);
}
