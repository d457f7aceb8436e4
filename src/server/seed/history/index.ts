import type pg from "pg";

import { createBillingServices } from "@/server/billing";
import type { ActionName } from "@/server/billing/actions";
import { METRICS } from "@/server/billing/catalogue";
import { createWebhookHandler } from "@/server/billing/dodo/webhook-handler";
import { effectivePlan } from "@/server/billing/policy";
import type { PrismaClient } from "@/server/db/client";

import { SeedError } from "../errors";
import { SEEDED_AT } from "../generate";
import { DEFAULT_HISTORY_DAYS, DEFAULT_HOURLY_DAYS, demoAnchor, historySpan, SimulatedClock, type HistorySpan } from "./clock";
import { gaugeActions, planGaugeEvents, type GaugeActions } from "./gauges";
import { loadDemoOrgs, policySubscription, type DemoOrg } from "./orgs";
import { historyRandom } from "./random";
import { drawUtcOffset } from "./rhythm";
import { assignScenarios, planName, type Scenario } from "./scenarios";
import { planSubscriptionStory } from "./subscription-story";
import { runTimeline, type OrgEvent, type OrgTimeline, type TimelineStats } from "./timeline";
import { CalendarWindows, OrgUsage, usageActions, type UsageAction } from "./usage";
import { DEMO_WEBHOOK_KEY, SignedDelivery } from "./webhooks";

export { DEFAULT_HISTORY_DAYS, DEFAULT_HOURLY_DAYS, demoAnchor, historySpan } from "./clock";
export { DEMO_WEBHOOK_KEY } from "./webhooks";

/** Who the history's writes are recorded as (the ledger's and the denials' actor). */
export const HISTORY_ACTOR = "demo-app";

export interface HistoryOptions {
  /** The seed whose orgs get a history (their slugs start with s<seed>-); default 1. */
  seed?: number;
  /** The history ends here (exclusive), floored to the hour; default the real clock. */
  anchor?: Date;
  /** How many days back it starts; default 90. */
  days?: number;
  /** The last this-many days get hourly usage rows; default 14. */
  hourlyDays?: number;
  /** Only the first `orgs` orgs of the seed (by index); default all. */
  orgs?: number;
  /** The Standard Webhooks secret the webhooks are signed with and verified against; default DEMO_WEBHOOK_KEY. */
  webhookKey?: string;
  /** Orgs whose writes run at once; default 4. */
  concurrency?: number;
}

export interface ScenarioSummary {
  orgId: string;
  slug: string;
  kind: Scenario["kind"];
  at: Date;
  /** The plan moved to (upgrades and plan changes). */
  plan?: string;
  /** A downgrade that leaves the org over this gauge's hard limit. */
  overMetric?: string;
}

export interface HistoryResult extends TimelineStats {
  seed: number;
  orgs: number;
  start: Date;
  anchor: Date;
  hourlyFrom: Date;
  days: number;
  /** The metrics that got history, and those the generator does not know (none). */
  metrics: { generated: string[]; skipped: string[] };
  scenarios: ScenarioSummary[];
  elapsedMs: number;
}

/**
 * The instant to seed the demo orgs at (`seedDatabase`'s `now`) so that their subscriptions
 * are current when the history starts; the history's renewals then bring them to the anchor.
 */
export function historyStart(anchor: Date, days = DEFAULT_HISTORY_DAYS): Date {
  return historySpan(anchor, days, DEFAULT_HOURLY_DAYS).start;
}

/**
 * Writes `days` of history before `anchor` for the orgs of `seed` (seeded with
 * `now: historyStart(anchor)`), through the domain services with their clock set to the
 * time each thing happens: members, teams and files coming and going (consumes with their
 * host rows), usage of every period counter with a weekly rhythm, denials where limits are
 * met, and the subscriptions' renewals, plan changes, lapses and cancellations as signed
 * Dodo webhooks through the app's webhook handler. Same seed, anchor and options: the same
 * rows (random row ids aside).
 */
export async function seedDemoHistory(
  database: { prisma: PrismaClient; pool: pg.Pool },
  options: HistoryOptions = {},
): Promise<HistoryResult> {
  const started = performance.now();
  const seed = options.seed ?? 1;
  const days = options.days ?? DEFAULT_HISTORY_DAYS;
  if (!Number.isInteger(days) || days < 60 || days > 366) throw new SeedError(`days must be an integer from 60 to 366, got ${days}`);
  const hourlyDays = options.hourlyDays ?? DEFAULT_HOURLY_DAYS;
  if (!Number.isInteger(hourlyDays) || hourlyDays < 0 || hourlyDays > days) {
    throw new SeedError(`hourlyDays must be an integer from 0 to ${days}, got ${hourlyDays}`);
  }
  const span = historySpan(options.anchor ?? demoAnchor(), days, hourlyDays);
  if (span.start.getTime() < SEEDED_AT) {
    throw new SeedError(`the history would start before the seed's counts (${new Date(SEEDED_AT).toISOString()}): anchor it later`);
  }
  const orgs = await loadDemoOrgs(database, seed, options.orgs);
  await refuseRepeatedHistory(
    database.pool,
    orgs.map((o) => o.id),
  );

  const scenarios = assignScenarios(orgs, span, seed);
  const gauges = gaugeActions();
  const usage = usageActions();
  const webhookKey = options.webhookKey ?? DEMO_WEBHOOK_KEY;
  const delivery = new SignedDelivery(webhookKey); // refuses an unusable key before anything runs
  const calendarWindows = new CalendarWindows();
  const timelines = orgs.map((org) =>
    orgTimeline(database, org, { seed, span, scenario: scenarios.get(org.index), gauges, usage, webhookKey, calendarWindows }),
  );

  const batchClock = new SimulatedClock(span.start);
  const stats = await runTimeline({
    pool: database.pool,
    span,
    seed,
    actor: HISTORY_ACTOR,
    orgs: timelines,
    batch: { services: createBillingServices(database.prisma, { pool: database.pool, clock: batchClock.now }), clock: batchClock },
    delivery,
    concurrency: Math.max(1, options.concurrency ?? 4),
  });

  const generated = new Set<string>([
    ...gauges.map((g) => g.metric),
    ...usage.flatMap((u) => [u.metric, ...u.also.filter((a) => hourlyDays > 0 || a.windowHours >= 24).map((a) => a.metric)]),
  ]);
  return {
    seed,
    orgs: orgs.length,
    start: span.start,
    anchor: span.anchor,
    hourlyFrom: span.hourlyFrom,
    days,
    ...stats,
    metrics: { generated: [...generated], skipped: METRICS.filter((m) => !generated.has(m)) },
    scenarios: orgs.flatMap((org) => {
      const s = scenarios.get(org.index);
      if (!s) return [];
      return [
        {
          orgId: org.id,
          slug: org.slug,
          kind: s.kind,
          at: new Date(s.at),
          ...("productId" in s ? { plan: planName(s.productId) } : {}),
          ...(s.kind === "plan_change" && s.overMetric ? { overMetric: s.overMetric } : {}),
        },
      ];
    }),
    elapsedMs: performance.now() - started,
  };
}

/**
 * One org's part: its own services on its own clock (so orgs can run at once), its webhook
 * route, and its events and usage habits, all drawn from its own streams.
 */
function orgTimeline(
  database: { prisma: PrismaClient; pool: pg.Pool },
  org: DemoOrg,
  plan: {
    seed: number;
    span: HistorySpan;
    scenario: Scenario | undefined;
    gauges: GaugeActions[];
    usage: UsageAction[];
    webhookKey: string;
    calendarWindows: CalendarWindows;
  },
): OrgTimeline {
  const { seed, span, scenario } = plan;
  const clock = new SimulatedClock(span.start);
  const services = createBillingServices(database.prisma, { pool: database.pool, clock: clock.now });
  const offsetHours = drawUtcOffset(historyRandom(seed, "timezone", org.index));
  const startingPlan = effectivePlan(policySubscription(org), span.start).plan;
  const webhooks = planSubscriptionStory(org, scenario, span, historyRandom(seed, "subscription", org.index));
  // Stable sort: at the same instant a webhook goes first.
  const events: OrgEvent[] = [
    ...webhooks.map((w) => ({ kind: "webhook" as const, ...w })),
    ...planGaugeEvents(org, plan.gauges, span, seed, offsetHours, scenario),
  ].sort((a, b) => a.at - b.at);
  // What the policy counts for the org now: where a usage window starts from.
  const readUsed = (action: ActionName) => async () => (await services.entitlements.check(org.id, action)).used ?? 0n;
  return {
    org,
    clock,
    services,
    route: createWebhookHandler({ keys: [plan.webhookKey], service: services.dodo }),
    events,
    usage: plan.usage.map((u) => new OrgUsage(org, u, seed, offsetHours, startingPlan, readUsed(u.action), plan.calendarWindows)),
    gaugeRandom: new Map(plan.gauges.map((g) => [g.metric, historyRandom(seed, `gauge:${g.metric}`, org.index)])),
  };
}

/** A history written twice would add members twice: refuse before writing anything. */
async function refuseRepeatedHistory(pool: pg.Pool, orgIds: string[]): Promise<void> {
  const { rows } = await pool.query<{ found: boolean }>(
    "SELECT EXISTS (SELECT 1 FROM usage_ledger WHERE org_id = ANY($1::uuid[]) AND actor = $2) AS found",
    [orgIds, HISTORY_ACTOR],
  );
  if (rows[0]?.found) throw new SeedError("these organizations already have a demo history");
}
