import type { Tx } from "@/server/db/tx";

import { toEvent, type UsageIngestApi } from "./ingest-events";
import { defer, markStatus, type ClaimedRow } from "./outbox-claims";
import { backoffMs, classifyIngestFailure } from "./retry";

/** Sends one claimed batch and records each row's fate, splitting a refused batch until the event at fault stands alone. */

export interface BatchOutcome {
  claimed: number;
  sent: number;
  expired: number;
  failed: number;
  /** Put off until `retryAt` (429, 5xx, network, credentials). */
  deferred: number;
  retryAt?: Date;
  error?: string;
}

type Delivered = Omit<BatchOutcome, "claimed">;

const NOTHING: Delivered = { sent: 0, expired: 0, failed: 0, deferred: 0 };

function merge(a: Delivered, b: Delivered): Delivered {
  return {
    sent: a.sent + b.sent,
    expired: a.expired + b.expired,
    failed: a.failed + b.failed,
    deferred: a.deferred + b.deferred,
    retryAt: a.retryAt && b.retryAt ? (a.retryAt < b.retryAt ? a.retryAt : b.retryAt) : (a.retryAt ?? b.retryAt),
    error: a.error ?? b.error,
  };
}

/**
 * Sends `rows` and records what became of each, inside the claiming transaction. Dodo
 * refusing the request as a whole (one bad event fails all 1 000) is answered by sending
 * each half again until the event at fault stands alone: only it becomes `failed`.
 * A 429/5xx/network failure puts off every row not yet sent (and stops the splitting).
 */
export async function deliver(tx: Tx, api: UsageIngestApi, rows: ClaimedRow[], clock: () => Date): Promise<Delivered> {
  const ids = rows.map((r) => r.ledger_id);
  const now = clock();
  try {
    await api.usageEvents.ingest({ events: rows.map(toEvent) });
    await markStatus(tx, ids, "sent", clock(), null);
    return { ...NOTHING, sent: rows.length };
  } catch (error) {
    const attempts = Math.max(...rows.map((r) => r.attempts));
    const failure = classifyIngestFailure(error, attempts, now);
    if (failure.kind === "retry") {
      const retryAt = new Date(now.getTime() + failure.delayMs);
      await defer(tx, ids, retryAt, now, failure.error);
      return { ...NOTHING, deferred: rows.length, retryAt, error: failure.error };
    }
    if (failure.kind === "reject") {
      const claimed = new Set(ids);
      const expired = failure.expired.filter((id) => claimed.has(id));
      const later = failure.later.filter((id) => claimed.has(id));
      const failed = failure.failed.filter((id) => claimed.has(id));
      const named = new Set([...expired, ...later, ...failed]);
      if (named.size > 0) {
        await markStatus(tx, expired, "expired", now, failure.error);
        await markStatus(tx, failed, "failed", now, failure.error);
        const retryAt = new Date(now.getTime() + backoffMs(attempts));
        if (later.length) await defer(tx, later, retryAt, now, failure.error);
        const outcome: Delivered = {
          ...NOTHING,
          expired: expired.length,
          failed: failed.length,
          deferred: later.length,
          retryAt: later.length ? retryAt : undefined,
          error: failure.error,
        };
        // The rest were refused only because of the named ones: they go again now.
        const rest = rows.filter((r) => !named.has(r.ledger_id));
        return rest.length ? merge(outcome, await deliver(tx, api, rest, clock)) : outcome;
      }
      // Dodo named none of ours: treat it as a refusal of the whole request.
    }
    if (rows.length === 1) {
      await markStatus(tx, ids, "failed", now, failure.error);
      return { ...NOTHING, failed: 1, error: failure.error };
    }
    const half = Math.ceil(rows.length / 2);
    const first = await deliver(tx, api, rows.slice(0, half), clock);
    if (first.retryAt && first.deferred > 0 && first.sent + first.failed + first.expired === 0) {
      // Dodo or the network failed meanwhile: the second half waits too, unsent.
      const second = rows.slice(half);
      await defer(
        tx,
        second.map((r) => r.ledger_id),
        first.retryAt,
        now,
        first.error ?? failure.error,
      );
      return merge(first, { ...NOTHING, deferred: second.length });
    }
    return merge(first, await deliver(tx, api, rows.slice(half), clock));
  }
}
