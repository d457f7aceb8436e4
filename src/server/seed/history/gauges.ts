import type pg from "pg";

import { METERED_ACTIONS, type ActionName } from "@/server/billing/actions";
import { METRIC_KIND, METRICS, type Metric } from "@/server/billing/catalogue";
import type { EntitlementService } from "@/server/billing/entitlement-service";
import { effectiveLimit, effectivePlan } from "@/server/billing/policy";

import type { Random } from "../prng";
import { DAY_MS, type HistorySpan } from "./clock";
import { HOST_WRITERS, type HostWriter } from "./host-writers";
import { policySubscription, type DemoOrg } from "./orgs";
import { historyRandom, poisson } from "./random";
import { busyTime } from "./rhythm";
import type { Scenario } from "./scenarios";

/**
 * Members joining and leaving, teams made and dissolved, files uploaded and deleted: each
 * one a `consume` of the catalogue's action for that gauge, then the host row it counts
 * (HOST_WRITERS). An add past a hard limit is denied and recorded as a denial, as the
 * product would see it; nothing is inserted then.
 *
 * The consume and the host row are two steps, as for a product app that asks billing over
 * its API (it cannot join billing's transaction); the history is their only writer, so
 * nothing comes between them. (In one Prisma interactive transaction each event cost about
 * five times as much, which the demo's one-minute start cannot afford.)
 */

/** A gauge the history can move: its actions from METERED_ACTIONS and its host writer. */
export interface GaugeActions {
  metric: Metric;
  add: ActionName;
  remove: ActionName;
  writer: HostWriter;
}

/** Every gauge metric with a +1 action, a −1 action and a host writer (the rest get no history). */
export function gaugeActions(): GaugeActions[] {
  const actions = Object.entries(METERED_ACTIONS) as [ActionName, { metric: Metric; direction: 1 | -1 }][];
  return METRICS.flatMap((metric) => {
    const add = actions.find(([, a]) => a.metric === metric && a.direction > 0)?.[0];
    const remove = actions.find(([, a]) => a.metric === metric && a.direction < 0)?.[0];
    const writer = HOST_WRITERS[metric];
    return METRIC_KIND[metric] === "gauge" && add && remove && writer ? [{ metric, add, remove, writer }] : [];
  });
}

export interface GaugeEvent {
  kind: "gauge";
  at: number;
  gauge: GaugeActions;
  direction: 1 | -1;
  /** Numbers the org's events of this gauge: names and idempotency keys. */
  seq: number;
}

/**
 * An org's gauge events over the history: a Poisson number of adds and removes per gauge at
 * busy times; after a downgrade that leaves it over a limit, a few tries to add more (the
 * denials the org page explains).
 */
export function planGaugeEvents(
  org: DemoOrg,
  gauges: readonly GaugeActions[],
  span: HistorySpan,
  seed: number,
  offsetHours: number,
  scenario: Scenario | undefined,
): GaugeEvent[] {
  const start = span.start.getTime();
  const anchor = span.anchor.getTime();
  const scale = span.days / 90;
  const events: GaugeEvent[] = [];
  for (const gauge of gauges) {
    const random = historyRandom(seed, `gauge-plan:${gauge.metric}`, org.index);
    const rates = gauge.writer.rates(org);
    // An org already at a hard limit mostly stops trying to add (some still try: denials).
    const { limit } = effectiveLimit(effectivePlan(policySubscription(org), span.start).plan, gauge.metric, undefined, span.start);
    const atLimit = limit !== "unlimited" && limit.kind === "hard" && (org.counts.get(gauge.metric) ?? 0n) >= limit.value;
    let seq = 0;
    const add = (at: number, direction: 1 | -1) => events.push({ kind: "gauge", at, gauge, direction, seq: seq++ });
    const adds = poisson(random, rates.adds * scale * (atLimit ? 0.25 : 1));
    const removes = poisson(random, rates.removes * scale);
    for (let i = 0; i < adds; i++) add(busyTime(random, start, anchor, offsetHours), 1);
    for (let i = 0; i < removes; i++) add(busyTime(random, start, anchor, offsetHours), -1);
    if (scenario?.kind === "plan_change" && scenario.overMetric === gauge.metric) {
      for (const days of [1, 4, 9]) {
        const day = scenario.at + days * DAY_MS;
        if (day < anchor) add(busyTime(random, day, Math.min(day + DAY_MS, anchor), offsetHours), 1);
      }
    }
  }
  return events;
}

export interface GaugeContext {
  pool: pg.Pool;
  entitlements: EntitlementService;
  seed: number;
  actor: string;
}

/** Runs one gauge event at the services' clock; `random` is the org's stream for this gauge. */
export async function runGaugeEvent(context: GaugeContext, org: DemoOrg, event: GaugeEvent, random: Random): Promise<void> {
  const { gauge, direction } = event;
  const action = direction > 0 ? gauge.add : gauge.remove;
  const consume = (amount: bigint) =>
    context.entitlements.consume(org.id, action, {
      amount,
      idempotencyKey: `demo:${context.seed}:${org.index}:${gauge.metric}:${event.seq}`,
      actor: context.actor,
    });
  if (direction > 0) {
    const add = gauge.writer.drawAdd(random, org, event.seq, new Date(event.at));
    if ((await consume(add.amount)).allowed) await add.insert(context.pool);
    return;
  }
  const removal = await gauge.writer.pickRemoval(context.pool, org.id, random.next());
  if (!removal) return;
  await consume(removal.amount);
  await removal.delete(context.pool);
}
