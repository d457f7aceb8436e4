import { MAX_BATCH } from "@/server/billing/usage-service";

import { forEachConcurrently } from "./concurrency";
import { policySubscription } from "./orgs";
import type { OrgTimeline, TimelineContext, TimelineStats } from "./timeline";
import type { OrgUsage, UsageWrite } from "./usage";

/**
 * One bucket of period-counter usage for every org (see usage.ts): the bulk writes in
 * `incrementMany` calls at the batch clock, and at the same time the writes that may meet a
 * limit as `consume`s, each org's in order at its own clock.
 */
export async function runUsageBuckets(context: TimelineContext, at: number, bucketHours: number, stats: TimelineStats): Promise<void> {
  const bulk: { orgId: string; metric: string; amount: bigint; reason: string; actor: string; metadata: object }[] = [];
  const consumers: { timeline: OrgTimeline; writes: { usage: OrgUsage; chunks: bigint[] }[] }[] = [];
  const bucket = bucketHours === 1 ? "hour" : "day";
  for (const timeline of context.orgs) {
    const subscription = policySubscription(timeline.org);
    const writes: { usage: OrgUsage; chunks: bigint[] }[] = [];
    for (const usage of timeline.usage) {
      // A bucket longer than the window would put two windows' usage in one.
      if (usage.usage.windowHours < bucketHours) continue;
      timeline.clock.set(at);
      const write: UsageWrite | null = await usage.decide(at, bucketHours, subscription);
      if (write?.path === "batch") {
        const { metric, reason, action, also } = usage.usage;
        // The action's other metrics count the same calls, where the bucket fits in their window.
        for (const m of [metric, ...also.filter((a) => a.windowHours >= bucketHours).map((a) => a.metric)]) {
          bulk.push({
            orgId: timeline.org.id,
            metric: m,
            amount: write.amount,
            reason,
            actor: context.actor,
            metadata: { action, bucket },
          });
        }
      } else if (write) writes.push({ usage, chunks: write.chunks });
    }
    if (writes.length > 0) consumers.push({ timeline, writes });
  }
  context.batch.clock.set(at);
  const writeBulk = async () => {
    for (let from = 0; from < bulk.length; from += MAX_BATCH) {
      await context.batch.services.usage.incrementMany(bulk.slice(from, from + MAX_BATCH), { atomic: true, actor: context.actor });
    }
    stats.usageRows += bulk.length;
  };
  const bucketIso = new Date(at).toISOString();
  // Settled, not Promise.all: a failure must not leave the other half writing on a closing pool.
  const outcomes = await Promise.allSettled([
    writeBulk(),
    forEachConcurrently(consumers, context.concurrency, async ({ timeline, writes }) => {
      timeline.clock.set(at);
      for (const { usage, chunks } of writes) {
        for (const [n, amount] of chunks.entries()) {
          const { metric, action } = usage.usage;
          const result = await timeline.services.entitlements.consume(timeline.org.id, action, {
            amount,
            idempotencyKey: `demo:${context.seed}:${timeline.org.index}:${metric}:${bucketIso}:${n}`,
            actor: context.actor,
            metadata: { action, bucket },
          });
          usage.consumed(amount, result.allowed);
          stats.consumes++;
          if (!result.allowed) {
            stats.refusedConsumes++;
            break; // the product backs off until its next try
          }
        }
      }
    }),
  ]);
  for (const outcome of outcomes) if (outcome.status === "rejected") throw outcome.reason;
}
