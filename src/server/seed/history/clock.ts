/**
 * The history's time: a fixed anchor ("now" for the demo, the real clock floored to the hour
 * by default) and everything derived from it, so the same anchor gives the same rows.
 */

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** How far back the history reaches. */
export const DEFAULT_HISTORY_DAYS = 90;
/** The last this-many days get hourly usage rows; the days before, one row per day. */
export const DEFAULT_HOURLY_DAYS = 14;

/** The default anchor: the real clock floored to the whole hour (UTC). */
export function demoAnchor(now: Date = new Date()): Date {
  return new Date(Math.floor(now.getTime() / HOUR_MS) * HOUR_MS);
}

export interface HistorySpan {
  /** The first instant of the history (inclusive). */
  start: Date;
  /** The last (exclusive): nothing is written at or after it. */
  anchor: Date;
  /** Where hourly usage rows begin (daily ones before). */
  hourlyFrom: Date;
  days: number;
}

/**
 * `days` before `anchor`, which is floored to the hour so that every usage bucket (an hour,
 * a UTC day) starts on the grid; the start is floored to a UTC midnight for the same reason.
 */
export function historySpan(anchor: Date, days: number, hourlyDays: number): HistorySpan {
  const end = demoAnchor(anchor);
  const start = new Date(Math.floor((end.getTime() - days * DAY_MS) / DAY_MS) * DAY_MS);
  const hourlyFrom = new Date(Math.max(start.getTime(), Math.floor((end.getTime() - hourlyDays * DAY_MS) / DAY_MS) * DAY_MS));
  return { start, anchor: end, hourlyFrom, days };
}

/**
 * A clock the domain services read (`createBillingServices(…, { clock: c.now })`), moved by
 * the history before each write, so every ledger row, denial and reset is recorded at the
 * time it "happened".
 */
export class SimulatedClock {
  private at: Date;

  constructor(at: Date) {
    this.at = at;
  }

  set(at: Date | number): void {
    this.at = new Date(at);
  }

  readonly now = (): Date => this.at;
}
