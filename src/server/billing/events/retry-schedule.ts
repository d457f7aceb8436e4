/**
 * When a failed delivery is tried again: after the 1st failed attempt 5 s, then 1 min, 5 min,
 * 30 min, 2 h, 5 h, 8 h, 8 h (each ±20 % jitter, so endpoints that failed together do not
 * retry together) — 9 attempts over about 23.6 hours, after which the delivery is `failed`
 * (the dead letter an admin may replay).
 */
export const RETRY_DELAYS_MS = [
  5_000,
  60_000,
  5 * 60_000,
  30 * 60_000,
  2 * 3_600_000,
  5 * 3_600_000,
  8 * 3_600_000,
  8 * 3_600_000,
] as const;

/** Attempts before a delivery is `failed`: the first, and one per delay. */
export const MAX_ATTEMPTS = RETRY_DELAYS_MS.length + 1;

export type RetryDelay = (failedAttempts: number) => number | null;

/** The delay before the next attempt after `failedAttempts` failures; null: give up. */
export const defaultRetryDelay: RetryDelay = (failedAttempts) => {
  const base = RETRY_DELAYS_MS[failedAttempts - 1];
  if (base === undefined) return null;
  return Math.round(base * (0.8 + Math.random() * 0.4));
};

/**
 * The schedule cut to `maxAttempts` attempts in all (EVENTS_MAX_ATTEMPTS): the e2e server
 * fails a delivery on its first error, so a spec can replay a dead letter without waiting a day.
 */
export const retryDelayUpTo =
  (maxAttempts: number): RetryDelay =>
  (failedAttempts) =>
    failedAttempts >= maxAttempts ? null : defaultRetryDelay(failedAttempts);
