import { METERED_ACTIONS, type ActionName, type MeteredAction } from "@/server/billing/actions";
import { PLANS, type Metric, type Plan } from "@/server/billing/catalogue";
import { metricDefinition } from "@/server/billing/metrics";
import { effectiveLimit, effectivePlan, type SubscriptionState } from "@/server/billing/policy";
import { currentWindow } from "@/server/billing/usage-window";

import type { Random } from "../prng";
import { HOUR_MS } from "./clock";
import type { DemoOrg } from "./orgs";
import { historyRandom, poisson } from "./random";
import { activityOver, referenceActivity } from "./rhythm";

/**
 * Usage of the period counters (API calls, and whatever else the catalogue meters per
 * window): per org and bucket (an hour, or a UTC day further back), an amount drawn from how
 * much the org tends to use, shaped by the weekly rhythm. Most of it is written
 * in bulk (`incrementMany`, one call per bucket for every org); where a write could meet a
 * hard limit, or the subscription has lapsed, it goes through `consume` instead, so the limit
 * is enforced and the refusals are recorded as denials.
 */

/** A metered action that adds to a period counter. */
export interface UsageAction {
  action: ActionName;
  metric: Metric;
  reason: string;
  /** The length of the metric's window, in hours (a billing period counts as a month). */
  windowHours: number;
  /**
   * The other metrics the action counts (actions.ts `also`), with their windows' lengths: a
   * consume writes them itself; a bulk write adds them where the bucket fits their window.
   */
  also: { metric: Metric; windowHours: number }[];
}

const UNIT_HOURS = { hour: 1, day: 24, week: 168, month: 730 } as const;

/** Every action of METERED_ACTIONS that adds to a period counter: each gets usage history. */
export function usageActions(): UsageAction[] {
  return (Object.entries(METERED_ACTIONS) as [ActionName, MeteredAction][]).flatMap(([action, { metric, direction, reason, also }]) => {
    const windowHours = windowHoursOf(metric);
    if (direction <= 0 || windowHours === null) return [];
    return [{ action, metric, reason, windowHours, also: (also ?? []).map((m) => ({ metric: m, windowHours: windowHoursOf(m) ?? 0 })) }];
  });
}

/** The length of a period counter's window in hours; null for a gauge. */
function windowHoursOf(metric: Metric): number | null {
  const definition = metricDefinition(metric);
  if (definition.kind !== "period_counter") return null;
  const window = definition.window;
  return window.kind === "calendar" ? UNIT_HOURS[window.unit] : UNIT_HOURS.month;
}

/** What an unlimited org's usage is measured against: twice the largest finite limit of any plan. */
function unlimitedReference(metric: Metric): number {
  let largest = 0;
  for (const plan of PLANS) {
    const { limit } = effectiveLimit(plan, metric, undefined, new Date(0));
    if (limit !== "unlimited") largest = Math.max(largest, Number(limit.value));
  }
  return largest > 0 ? 2 * largest : 1000;
}

/**
 * `currentWindow`, remembered for the instant being written. Computing a window in a time
 * zone costs tens of microseconds (Intl), and the history asks once per org, metric and
 * bucket; a calendar window (an hour, a day) is the same for every org, so it is computed
 * once per metric and bucket. (A billing period depends on the org: OrgUsage keeps its own.)
 */
export class CalendarWindows {
  private at = Number.NaN;
  private readonly starts = new Map<Metric, number>();

  /** The start of `metric`'s calendar window holding `now`. */
  startAt(metric: Metric, now: Date): number {
    if (now.getTime() !== this.at) {
      this.at = now.getTime();
      this.starts.clear();
    }
    let start = this.starts.get(metric);
    if (start === undefined) {
      start = currentWindow(metric, null, now)?.start.getTime() ?? 0;
      this.starts.set(metric, start);
    }
    return start;
  }
}

/** A write the history makes for one org, metric and bucket. */
export type UsageWrite = { path: "batch"; amount: bigint } | { path: "consume"; chunks: bigint[] };

/** Writes that may meet a hard limit go through consume, in this many tries. */
const CONSUME_CHUNKS = 4n;
/** Bulk writes stay below this share of a hard limit (tenths): past it, consume decides. */
const BULK_UP_TO_TENTHS = 8n;
/** Windows at least this long (hours) start from the count the policy reads (see `decide`). */
const LONG_WINDOW_HOURS = 168;

/**
 * One org's usage of one period counter: its habits (how much it uses per window — a share
 * of what its plan allowed when the history starts, about one org in eight at or past it —
 * kept through later plan changes, so a downgraded or lapsed org meets its new limit) and the
 * history's running count of the current window, which decides between a bulk write and a
 * consume.
 */
export class OrgUsage {
  private readonly random: Random;
  /** Usage per window; 0: the org does not use this metric. */
  private readonly perWindow: number;
  /** The window last computed, and for which subscription state: windows are costly to compute. */
  private window: { start: number; end: number; subscription: string } | null = null;
  private windowStart: number | null = null;
  private used = 0n;
  /** Refused in this window: the product tries again once a day, not every hour. */
  private blocked = false;

  /**
   * @param readUsed what the policy says the org has used of this metric now (a `check`).
   * @param calendarWindows shared by every org's usage.
   */
  constructor(
    org: DemoOrg,
    readonly usage: UsageAction,
    seed: number,
    private readonly offsetHours: number,
    startingPlan: Plan,
    private readonly readUsed: () => Promise<bigint>,
    private readonly calendarWindows: CalendarWindows,
  ) {
    this.random = historyRandom(seed, `usage:${usage.metric}`, org.index);
    const uses = this.random.chance(0.9);
    const heavy = this.random.chance(0.12);
    const share = !uses ? 0 : heavy ? 0.9 + 0.7 * this.random.next() : 0.03 + 0.5 * this.random.next() ** 2;
    const { limit } = effectiveLimit(startingPlan, usage.metric, undefined, new Date(0));
    this.perWindow = share * (limit === "unlimited" ? unlimitedReference(usage.metric) : Number(limit.value));
  }

  /** The write for the bucket [at, at + bucketHours), given the subscription the policy reads then. */
  async decide(at: number, bucketHours: number, subscription: SubscriptionState | null): Promise<UsageWrite | null> {
    const now = new Date(at);
    const windowStart = this.windowAt(now, subscription);
    if (windowStart !== this.windowStart) {
      // A long window starts from what the policy counts (what the seed or an earlier window
      // left, whatever resets the services make), so a bulk write never runs past a hard
      // limit; short windows (an hour, a day) start from nothing.
      this.used = this.windowStart === null || this.usage.windowHours >= LONG_WINDOW_HOURS ? await this.readUsed() : 0n;
      this.blocked = false;
      this.windowStart = windowStart;
    }

    const effective = effectivePlan(subscription, now);
    const { limit } = effectiveLimit(effective.plan, this.usage.metric, undefined, now);
    const amount = this.draw(at, bucketHours);
    if (amount === 0n) return null;
    const dailyTry = bucketHours >= 24 || new Date(at + this.offsetHours * HOUR_MS).getUTCHours() === 12;
    if (effective.standing === "lapsed") return dailyTry ? { path: "consume", chunks: [amount] } : null;
    const hard = limit !== "unlimited" && limit.kind === "hard" ? limit.value : null;
    if (hard === null || (!this.blocked && (this.used + amount) * 10n <= hard * BULK_UP_TO_TENTHS)) {
      this.used += amount;
      return { path: "batch", amount };
    }
    if (this.blocked) return dailyTry ? { path: "consume", chunks: [amount] } : null;
    // Near the limit the policy decides; one that would cross it is tried in parts, so the
    // org uses what is left before it is refused.
    return { path: "consume", chunks: this.used + amount > hard ? chunks(amount) : [amount] };
  }

  /** The start of the window holding `now` (0 for none), recomputed only when it may have changed. */
  private windowAt(now: Date, subscription: SubscriptionState | null): number {
    const definition = metricDefinition(this.usage.metric);
    if (definition.kind === "period_counter" && definition.window.kind === "calendar") {
      return this.calendarWindows.startAt(this.usage.metric, now);
    }
    const at = now.getTime();
    const key = subscription
      ? `${subscription.id} ${subscription.status} ${subscription.productId} ${subscription.currentPeriodStart?.getTime()}`
      : "";
    const known = this.window;
    if (known && known.subscription === key && at >= known.start && at < known.end) return known.start;
    const window = currentWindow(this.usage.metric, subscription, now);
    this.window = window ? { start: window.start.getTime(), end: window.end.getTime(), subscription: key } : null;
    return window?.start.getTime() ?? 0;
  }

  /** What a consume of `amount` answered. */
  consumed(amount: bigint, allowed: boolean): void {
    if (allowed) this.used += amount;
    else this.blocked = true;
  }

  private draw(at: number, bucketHours: number): bigint {
    if (this.perWindow === 0) return 0n;
    const busy = activityOver(at, bucketHours, this.offsetHours) / referenceActivity(this.usage.windowHours, this.offsetHours);
    return BigInt(poisson(this.random, this.perWindow * busy));
  }
}

/** `amount` in up to CONSUME_CHUNKS nearly equal parts, none empty. */
function chunks(amount: bigint): bigint[] {
  const parts = amount < CONSUME_CHUNKS ? amount : CONSUME_CHUNKS;
  const out: bigint[] = [];
  for (let i = 0n; i < parts; i++) out.push(amount / parts + (i < amount % parts ? 1n : 0n));
  return out;
}
