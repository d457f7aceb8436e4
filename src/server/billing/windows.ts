/**
 * Usage windows: the stretch of time a period metric counts in, as pure functions of a
 * window spec and an instant (no I/O, no clock of their own), so every boundary is
 * table-testable. A window is `[start, end)`: `start` belongs to it, `end` to the next.
 *
 * Boundaries are wall-clock boundaries in the window's IANA time zone (UTC by default):
 * - `hour`: from one instant the local clock reads a whole hour to the next. For zones with
 *   whole-hour offsets that is the UTC hour, and a DST change makes no window longer or
 *   shorter; where a change moves the clock by half an hour (Australia/Lord_Howe) that
 *   hour's window is 30 minutes longer.
 * - `day`, `week` (ISO, from Monday), `month`: from the first instant of the local day, so
 *   a day is 23 or 25 hours long across a DST change, and where a DST change skips
 *   midnight (e.g. America/Santiago in September) the day starts at the first instant
 *   that exists (01:00 there).
 * - A month anchored on day A starts on day A of each month, or on the month's last day
 *   when it has fewer days (anchor 31: Jan 31, Feb 28 or 29, Mar 31, Apr 30, …).
 */

export const WINDOW_UNITS = ["hour", "day", "week", "month"] as const;
export type WindowUnit = (typeof WINDOW_UNITS)[number];

export interface UsageWindow {
  start: Date;
  end: Date;
}

/** A calendar window: `unit`, in `timeZone`, months anchored on `anchorDay` (1–31). */
export interface CalendarWindow {
  unit: WindowUnit;
  timeZone?: string;
  anchorDay?: number;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

export function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone });
    return true;
  } catch {
    return false;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Wall-clock fields of an instant in a zone; `wall` is them read as if they were UTC. */
interface Local {
  year: number;
  month: number;
  day: number;
  minute: number;
  second: number;
  wall: number;
}

function local(at: number, timeZone: string): Local {
  // UTC, the default zone, without Intl: its fields are the Date's own (formatToParts costs
  // ~10 µs, and a window takes several; the policy works one out on every check).
  if (timeZone === "UTC") {
    const d = new Date(at);
    return {
      year: d.getUTCFullYear(),
      month: d.getUTCMonth() + 1,
      day: d.getUTCDate(),
      minute: d.getUTCMinutes(),
      second: d.getUTCSeconds(),
      wall: at,
    };
  }
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(at))) if (p.type !== "literal") parts[p.type] = Number(p.value);
  const { year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0 } = parts;
  return { year, month, day, minute, second, wall: Date.UTC(year, month - 1, day, hour, minute, second) + (((at % 1000) + 1000) % 1000) };
}

/**
 * The first instant whose local date is (year, month, day) in `timeZone`: local midnight,
 * or the end of the DST gap that skips it. `month` is 1-based and may overflow (Date.UTC
 * normalises 13 to January of the next year), as may `day`.
 */
export function startOfLocalDay(year: number, month: number, day: number, timeZone: string): Date {
  const target = Date.UTC(year, month - 1, day);
  // The zone's offset an hour either side of the target: one of them is the offset in force
  // at the local day's first instant (offsets change at most once around it).
  const offsets = new Set([target - 36 * HOUR_MS, target, target + 36 * HOUR_MS].map((t) => local(t, timeZone).wall - t));
  const candidates = [...offsets].map((offset) => target - offset).sort((a, b) => a - b);
  const exact = candidates.find((c) => local(c, timeZone).wall === target);
  if (exact !== undefined) return new Date(exact);
  // Midnight does not exist that day: the day starts where the clock jumps past it.
  const after = candidates.find((c) => local(c, timeZone).wall > target);
  return new Date(after ?? (candidates[0] as number));
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** The start of the month window anchored on `anchorDay` for (year, month), in the zone. */
function monthStart(year: number, month: number, anchorDay: number, timeZone: string): Date {
  const normalised = new Date(Date.UTC(year, month - 1, 1));
  const y = normalised.getUTCFullYear();
  const m = normalised.getUTCMonth() + 1;
  return startOfLocalDay(y, m, Math.min(anchorDay, daysInMonth(y, m)), timeZone);
}

/**
 * The local hour holding `t`: the last instant at or before it whose local reading is a
 * whole hour, to the next one after it. Such instants are t ≡ −offset (mod 1 h) under the
 * offset in force there; offsets change at most once in a few hours, so the candidates
 * under the offsets around `t`, a few hours either way, hold both ends.
 */
function localHourAt(t: number, timeZone: string): UsageWindow {
  // UTC has no offsets to search (api_calls_hourly's zone: worked out on every check of api.call).
  if (timeZone === "UTC") {
    const start = Math.floor(t / HOUR_MS) * HOUR_MS;
    return { start: new Date(start), end: new Date(start + HOUR_MS) };
  }
  const offsetAt = (x: number) => local(x, timeZone).wall - x;
  const offsets = new Set([offsetAt(t - 3 * HOUR_MS), offsetAt(t), offsetAt(t + 3 * HOUR_MS)]);
  let start = -Infinity;
  let end = Infinity;
  for (const offset of offsets) {
    const base = Math.floor((t + offset) / HOUR_MS) * HOUR_MS - offset;
    for (let k = -3; k <= 3; k++) {
      const candidate = base + k * HOUR_MS;
      if (offsetAt(candidate) !== offset) continue; // the clock does not read a whole hour there
      if (candidate <= t) start = Math.max(start, candidate);
      else end = Math.min(end, candidate);
    }
  }
  return { start: new Date(start), end: new Date(end) };
}

/** The calendar window holding `at`. */
export function calendarWindowAt(spec: CalendarWindow, at: Date): UsageWindow {
  const timeZone = spec.timeZone ?? "UTC";
  const t = at.getTime();
  if (spec.unit === "hour") return localHourAt(t, timeZone);
  const here = local(t, timeZone);
  switch (spec.unit) {
    case "day":
      return {
        start: startOfLocalDay(here.year, here.month, here.day, timeZone),
        end: startOfLocalDay(here.year, here.month, here.day + 1, timeZone),
      };
    case "week": {
      const isoWeekday = ((new Date(Date.UTC(here.year, here.month - 1, here.day)).getUTCDay() + 6) % 7) + 1;
      const monday = here.day - (isoWeekday - 1);
      return {
        start: startOfLocalDay(here.year, here.month, monday, timeZone),
        end: startOfLocalDay(here.year, here.month, monday + 7, timeZone),
      };
    }
    case "month": {
      const anchorDay = spec.anchorDay ?? 1;
      const thisMonth = monthStart(here.year, here.month, anchorDay, timeZone);
      if (t >= thisMonth.getTime()) return { start: thisMonth, end: monthStart(here.year, here.month + 1, anchorDay, timeZone) };
      return { start: monthStart(here.year, here.month - 1, anchorDay, timeZone), end: thisMonth };
    }
  }
}

/**
 * The billing period holding `at`, continued past a known period: when `at` is at or after
 * the period's end (a renewal not heard of yet), the next periods follow with the same
 * length in whole calendar months, on the same UTC day and time (anchor day rule above);
 * a period that is not a whole number of months repeats its exact duration.
 */
export function billingPeriodAt(period: UsageWindow, at: Date): UsageWindow {
  const t = at.getTime();
  let { start, end } = period;
  if (t >= start.getTime() && t < end.getTime()) return { start, end };
  const length = end.getTime() - start.getTime();
  const months = wholeMonthsBetween(start, end);
  // The n-th period after the known one (n < 0: before it), always counted from its start
  // so that clamped anchor days (31 → 30) do not creep.
  const nth = (n: number): Date =>
    months === null ? new Date(period.start.getTime() + n * length) : addMonthsUtc(period.start, n * months);
  // Jump close (a period long over), then walk: a few steps at most.
  let index = Math.floor((t - period.start.getTime()) / Math.max(length, DAY_MS));
  for (;;) {
    start = nth(index);
    end = nth(index + 1);
    if (t < start.getTime()) index--;
    else if (t >= end.getTime()) index++;
    else return { start, end };
  }
}

function addMonthsUtc(from: Date, months: number): Date {
  const y = from.getUTCFullYear();
  const m = from.getUTCMonth() + months;
  const first = new Date(Date.UTC(y, m, 1));
  const day = Math.min(from.getUTCDate(), daysInMonth(first.getUTCFullYear(), first.getUTCMonth() + 1));
  return new Date(
    Date.UTC(
      first.getUTCFullYear(),
      first.getUTCMonth(),
      day,
      from.getUTCHours(),
      from.getUTCMinutes(),
      from.getUTCSeconds(),
      from.getUTCMilliseconds(),
    ),
  );
}

/** How many calendar months separate `start` and `end` exactly (same day/time rule), or null. */
function wholeMonthsBetween(start: Date, end: Date): number | null {
  const approx = Math.round((end.getTime() - start.getTime()) / (30.44 * DAY_MS));
  for (const n of [approx - 1, approx, approx + 1]) if (n >= 1 && addMonthsUtc(start, n).getTime() === end.getTime()) return n;
  return null;
}
