import type pg from "pg";

import type { BillingServices } from "@/server/billing";

import type { Random } from "../prng";
import { DAY_MS, HOUR_MS, type HistorySpan, type SimulatedClock } from "./clock";
import { forEachConcurrently } from "./concurrency";
import { runGaugeEvent, type GaugeEvent } from "./gauges";
import type { DemoOrg } from "./orgs";
import type { PlannedWebhook } from "./subscription-story";
import type { OrgUsage } from "./usage";
import { runUsageBuckets } from "./usage-buckets";
import type { SignedDelivery, WebhookRoute } from "./webhooks";

/**
 * Runs the history hour by hour, from its start to the anchor. Each hour: first the usage
 * buckets that start then (every org's bulk writes in one `incrementMany` at the batch
 * clock; the writes that may meet a limit as `consume`s at each org's clock), then the orgs'
 * own events (webhooks, gauges) in time order. Orgs are independent — each has its own
 * services and clock — so several run at once; one org's events never overlap.
 */

export type OrgEvent = GaugeEvent | ({ kind: "webhook" } & PlannedWebhook);

export interface OrgTimeline {
  org: DemoOrg;
  clock: SimulatedClock;
  services: BillingServices;
  route: WebhookRoute;
  /** The org's events, sorted by time. */
  events: OrgEvent[];
  usage: OrgUsage[];
  /** The org's stream per gauge metric, for what its events draw when they run. */
  gaugeRandom: Map<string, Random>;
}

export interface TimelineStats {
  webhooks: Record<string, number>;
  gaugeEvents: number;
  usageRows: number;
  consumes: number;
  refusedConsumes: number;
}

export interface TimelineContext {
  pool: pg.Pool;
  span: HistorySpan;
  seed: number;
  actor: string;
  orgs: OrgTimeline[];
  /** Services whose clock the bulk writes set (one `incrementMany` covers many orgs). */
  batch: { services: BillingServices; clock: SimulatedClock };
  delivery: SignedDelivery;
  concurrency: number;
}

export async function runTimeline(context: TimelineContext): Promise<TimelineStats> {
  const stats: TimelineStats = { webhooks: {}, gaugeEvents: 0, usageRows: 0, consumes: 0, refusedConsumes: 0 };
  const cursors = new Map(context.orgs.map((o) => [o, 0]));
  /** Runs an org's events up to `last` (an index), in order. */
  const runThrough = async (timeline: OrgTimeline, last: number) => {
    for (let cursor = cursors.get(timeline) as number; cursor <= last; cursor++) {
      await runOrgEvent(context, timeline, timeline.events[cursor] as OrgEvent, stats);
      cursors.set(timeline, cursor + 1);
    }
  };
  /** The index of the org's last event before `until` (of `kind` when given), or -1. */
  const lastBefore = (timeline: OrgTimeline, until: number, kind?: OrgEvent["kind"]) => {
    let last = -1;
    for (let i = cursors.get(timeline) as number; i < timeline.events.length && (timeline.events[i] as OrgEvent).at < until; i++) {
      if (!kind || (timeline.events[i] as OrgEvent).kind === kind) last = i;
    }
    return last;
  };

  const start = context.span.start.getTime();
  const anchor = context.span.anchor.getTime();
  const hourlyFrom = context.span.hourlyFrom.getTime();
  for (let hour = start; hour < anchor; hour += HOUR_MS) {
    const bucketHours = hour >= hourlyFrom ? 1 : hour % DAY_MS === 0 ? 24 : 0;
    if (bucketHours > 0) await runUsageBuckets(context, hour, bucketHours, stats);
    const until = hour + HOUR_MS;
    // A webhook runs before the next bucket: its usage decisions (plan, window) and a renewal's
    // reset depend on it. An org's gauge events only depend on its own earlier events, so they
    // wait for the org's next webhook or the day's end and then run for many orgs at once.
    const endOfDay = until % DAY_MS === 0 || until >= anchor;
    if (!endOfDay && until < hourlyFrom) continue; // no bucket starts before the day ends
    const due = context.orgs.flatMap((timeline) => {
      const last = lastBefore(timeline, until, endOfDay ? undefined : "webhook");
      return last >= 0 ? [{ timeline, last }] : [];
    });
    await forEachConcurrently(due, context.concurrency, ({ timeline, last }) => runThrough(timeline, last));
  }
  return stats;
}

async function runOrgEvent(context: TimelineContext, timeline: OrgTimeline, event: OrgEvent, stats: TimelineStats): Promise<void> {
  timeline.clock.set(event.at);
  if (event.kind === "gauge") {
    const random = timeline.gaugeRandom.get(event.gauge.metric) as Random;
    await runGaugeEvent(
      { pool: context.pool, entitlements: timeline.services.entitlements, seed: context.seed, actor: context.actor },
      timeline.org,
      event,
      random,
    );
    stats.gaugeEvents++;
    return;
  }
  await context.delivery.deliver(timeline.route, timeline.org, event);
  stats.webhooks[event.type] = (stats.webhooks[event.type] ?? 0) + 1;
  followSubscription(timeline.org, event);
}

/** Keeps the org's subscription state in step with what the webhook's sync has just written. */
function followSubscription(org: DemoOrg, event: PlannedWebhook): void {
  const s = event.subscription;
  const existing = org.subscriptions.find((x) => x.id === s.id);
  const state = {
    id: s.id,
    productId: s.productId,
    status: s.status,
    currentPeriodStart: new Date(s.periodStart),
    currentPeriodEnd: new Date(s.periodEnd),
    // The sync dates a status change by the event (the start of a grace period).
    updatedAt: existing && existing.status === s.status ? existing.updatedAt : new Date(event.at),
    customerId: s.customerId,
  };
  if (existing) Object.assign(existing, state);
  else org.subscriptions.push(state);
}
