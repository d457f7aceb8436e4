/**
 * The subscription's current billing period: monthly, renewing on the subscription's anchor
 * (day 1–28 of the month, at a fixed UTC time, so every month has that day), and always
 * containing `now`. This is the only part of the seed that depends on the real clock: a
 * seeded subscription must be current whenever the seed runs.
 */
export interface Period {
  start: Date;
  end: Date;
}

export interface Anchor {
  /** 1–28. */
  day: number;
  /** Milliseconds after midnight UTC. */
  timeOfDay: number;
}

export function monthlyPeriodContaining(now: Date, anchor: Anchor): Period {
  const at = (year: number, month: number) => new Date(Date.UTC(year, month, anchor.day) + anchor.timeOfDay);
  const year = now.getUTCFullYear();
  const month = now.getUTCMonth();
  // Date.UTC normalises month -1 and 12 into the neighbouring years.
  const startMonth = at(year, month).getTime() <= now.getTime() ? month : month - 1;
  return { start: at(year, startMonth), end: at(year, startMonth + 1) };
}
