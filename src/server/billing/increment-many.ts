import type { PrismaClient } from "@/server/db/client";
import { viaPrisma, type RawQuery } from "@/server/db/raw-query";
import { isTransient, retryTransient } from "@/server/db/retry";
import type { Tx } from "@/server/db/tx";

import { BillingError } from "./errors";
import type { RememberedSubscriptions } from "./remembered-subscriptions";
import { applyBatch, isBatchRaced, judgeLost, MAX_BATCH, parseBatch, type BatchEventResult } from "./usage-batch";
import { writeBatchInOneStatement } from "./usage-batch-write";
import { windowFollowsSubscription } from "./usage-window";

/** What `incrementMany` writes with: UsageService's client, hot path, clock and remembered subscriptions. */
export interface BatchWriter {
  prisma: PrismaClient;
  hotPath: RawQuery;
  clock: () => Date;
  subscriptions: RememberedSubscriptions;
}

/**
 * `UsageService.incrementMany`: up to 10 000 events. The common case is ONE statement
 * (usage-batch-write.ts); anything it cannot judge in one go (a missing cache row, a window
 * to start, a count leaving its range, a rejection in atomic mode) runs one event by one in a
 * transaction (usage-batch.ts) with the same answers. Each event gets its own result; an
 * invalid event rejects only itself unless `atomic` is set, when any rejection rejects the
 * whole batch (a BillingError, nothing written). `actor`: the rows' actor when an event names none.
 */
export async function incrementMany(
  writer: BatchWriter,
  events: readonly unknown[],
  options: { atomic?: boolean; actor: string; tx?: Tx },
): Promise<BatchEventResult[]> {
  if (events.length > MAX_BATCH) {
    throw new BillingError("BAD_REQUEST", "batch_too_large", `At most ${MAX_BATCH} events per call (got ${events.length})`);
  }
  const { results, valid } = parseBatch(events);
  const atomic = options.atomic ?? false;
  const fallbackActor = options.actor;
  // One event by one, in a transaction (usage-batch.ts): rows created, windows started,
  // events rejected in order; atomic mode undoes everything when one is rejected.
  const sequential = async (tx: Tx) => {
    if (valid.length > 0) await applyBatch(tx, valid, results, { fallbackActor, ownTransaction: !options.tx, at: writer.clock() });
    const rejected = results.filter((r) => r?.status === "rejected");
    if (atomic && rejected.length > 0) {
      throw new BillingError(
        "BAD_REQUEST",
        "batch_rejected",
        `${rejected.length} of ${events.length} events were rejected; nothing was written`,
        {
          results,
        },
      );
    }
  };
  // The common case in one statement (usage-batch-write.ts); false when it needs the above.
  const parsedRejections = results.some((r) => r?.status === "rejected");
  const inOneStatement = async (run: RawQuery, tx?: Tx): Promise<boolean> => {
    if (valid.length === 0 || (atomic && parsedRejections)) return false;
    const orgIds = valid.some((v) => windowFollowsSubscription(v.event.metric)) ? [...new Set(valid.map((v) => v.event.orgId))] : null;
    const write = async (fresh: boolean) =>
      writeBatchInOneStatement(run, valid, results, {
        at: writer.clock(),
        ownStatement: !tx,
        fallbackActor,
        atomic,
        exactPrior: atomic || valid.some((v) => v.event.amount < 0n),
        subscriptions: orgIds ? await writer.subscriptions.snapshots(run, orgIds, fresh) : undefined,
      });
    let written = await write(false);
    // A remembered subscription changed since: read them, and try once more.
    if (written === "stale_subscriptions") written = await write(true);
    if (typeof written === "string") return false;
    await judgeLost(tx ?? writer.prisma, written.lost, results);
    return true;
  };
  if (options.tx) {
    const tx = options.tx;
    if (!(await inOneStatement(viaPrisma(tx), tx))) await sequential(tx);
  }
  // A deadlock, a serialization failure or a raced key rolls the whole batch back: running
  // it again is safe (nothing of it was written) and is what the caller would have to do.
  else
    await retryTransient(
      async () => {
        if (!(await inOneStatement(writer.hotPath))) await writer.prisma.$transaction(sequential, { timeout: 60_000, maxWait: 10_000 });
      },
      5,
      (e) => isTransient(e) || isBatchRaced(e),
    );
  return results as BatchEventResult[];
}
