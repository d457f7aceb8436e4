import type { Random } from "../prng";
import { HOUR_MS } from "./clock";

/**
 * The weekly rhythm of a team at work: busy on weekdays in office hours, quiet at night and
 * at weekends, in the org's own time zone (a whole-hour UTC offset). Every usage amount and
 * event time of the history is drawn against it, so charts show weekends and working days.
 */

/** Relative activity by local hour of day (0–23). */
const BY_HOUR = [
  0.06, 0.05, 0.05, 0.05, 0.06, 0.08, 0.15, 0.3, 0.65, 0.95, 1, 1, 0.8, 0.95, 1, 1, 0.95, 0.75, 0.5, 0.35, 0.25, 0.18, 0.12, 0.08,
];
/** Relative activity by local day of week, Sunday first. */
const BY_WEEKDAY = [0.18, 1, 1, 1, 0.95, 0.85, 0.28];

/** Activity in the hour starting at `at` (epoch ms) for a team at UTC`offsetHours`; at most 1. */
export function activity(at: number, offsetHours: number): number {
  const local = new Date(at + offsetHours * HOUR_MS);
  return (BY_WEEKDAY[local.getUTCDay()] as number) * (BY_HOUR[local.getUTCHours()] as number);
}

/** The activity summed over `hours` whole hours from `from`. */
export function activityOver(from: number, hours: number, offsetHours: number): number {
  let sum = 0;
  for (let h = 0; h < hours; h++) sum += activity(from + h * HOUR_MS, offsetHours);
  return sum;
}

const references = new Map<string, number>();
/** A Monday 00:00 UTC: the week the references are measured over (any week would do). */
const REFERENCE_WEEK = Date.UTC(2024, 0, 1);
const WEEK_HOURS = 168;

/**
 * The activity a window of `windowHours` is measured against, so that an org using a share
 * `u` of its limit uses u × limit in a busy window: for a week or longer, the average
 * (weekends and nights included, as a monthly quota is spent); for shorter windows (an hour, a
 * day), the busiest such window of the week, so a per-hour or per-day limit bites at the peak.
 */
export function referenceActivity(windowHours: number, offsetHours: number): number {
  const key = `${windowHours}:${offsetHours}`;
  let reference = references.get(key);
  if (reference === undefined) {
    if (windowHours >= WEEK_HOURS) {
      reference = (activityOver(REFERENCE_WEEK, WEEK_HOURS, offsetHours) / WEEK_HOURS) * windowHours;
    } else {
      reference = 0;
      for (let h = 0; h < WEEK_HOURS; h++) {
        reference = Math.max(reference, activityOver(REFERENCE_WEEK + h * HOUR_MS, windowHours, offsetHours));
      }
    }
    references.set(key, reference);
  }
  return reference;
}

/**
 * A time in [from, until) drawn with the rhythm's weights (rejection sampling: busy hours are
 * likelier), to the second.
 */
export function busyTime(random: Random, from: number, until: number, offsetHours: number): number {
  for (let attempt = 0; attempt < 200; attempt++) {
    const at = from + Math.floor((random.next() * (until - from)) / 1000) * 1000;
    if (random.next() < activity(at, offsetHours)) return at;
  }
  return from;
}

/** Where teams work, as whole-hour UTC offsets: the Americas, Europe, Asia-Pacific. */
const UTC_OFFSETS = [-8, -7, -6, -5, -5, -4, -3, 0, 0, 1, 1, 1, 2, 2, 3, 5, 8, 9, 10];

/** The UTC offset an org works in. */
export function drawUtcOffset(random: Random): number {
  return random.pick(UTC_OFFSETS);
}
