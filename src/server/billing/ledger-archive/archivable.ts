import type pg from "pg";

import { BillingError } from "../errors";

/**
 * Which UTC month of the ledger may be archived, and the names its partition goes by.
 *
 * A month is archivable once the month AFTER it has ended too: a usage window reset
 * (window-reset.ts) subtracts "the usage recorded since the window began", read from the
 * ledger, and the window a row moves into began at most one UTC month before now (a
 * billing period, or a month in a time zone 14 hours ahead of UTC), so every row such a read
 * can need is in the current or the previous month. An org whose subscription still names a
 * period that began inside or before the month, with a period counter not yet in that
 * period, would read the month on its next write: that refuses the month too.
 */

/** A month as `YYYY-MM` (UTC). */
export const MONTH_PATTERN = /^(\d{4})-(0[1-9]|1[0-2])$/;

export interface LedgerMonth {
  /** `YYYY-MM`. */
  label: string;
  /** The first instant of the month (UTC). */
  start: Date;
  /** The first instant of the next month. */
  end: Date;
  /** `usage_ledger_YYYY_MM`, in the schema ledger_partitions. */
  partition: string;
  /** The month as a SQL date literal, `YYYY-MM-01`. */
  date: string;
}

export function ledgerMonth(label: string): LedgerMonth {
  const match = MONTH_PATTERN.exec(label);
  if (!match) throw new BillingError("BAD_REQUEST", "invalid_month", `"${label}" is not a month (YYYY-MM)`);
  const [year, month] = [Number(match[1]), Number(match[2])];
  return {
    label,
    start: new Date(Date.UTC(year, month - 1, 1)),
    end: new Date(Date.UTC(year, month, 1)),
    partition: `usage_ledger_${match[1]}_${match[2]}`,
    date: `${label}-01`,
  };
}

/** The refusal of a month that is not over long enough (see above); undefined when it may go. */
export function tooRecent(month: LedgerMonth, now: Date): BillingError | undefined {
  const previousMonthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
  if (month.end <= previousMonthStart) return undefined;
  const current = month.start <= now && now < month.end;
  const reason = month.start > now ? "month_in_future" : current ? "month_current" : "month_in_open_window";
  return new BillingError(
    "PRECONDITION_FAILED",
    reason,
    `${month.label} cannot be archived before ${new Date(Date.UTC(month.end.getUTCFullYear(), month.end.getUTCMonth() + 1, 1)).toISOString().slice(0, 7)}-01: ` +
      "the current and the previous month are still read by usage window resets",
  );
}

/** Refuses the month when a subscription's current period began before its end and a period counter has not reset into it yet. */
export async function windowStillReads(client: pg.ClientBase, month: LedgerMonth): Promise<BillingError | undefined> {
  const { rows } = await client.query<{ org_id: string }>(
    `SELECT s.org_id::text FROM subscriptions s JOIN usage_cache c ON c.org_id = s.org_id
     WHERE s.current_period_start < $1 AND c.window_start IS NOT NULL AND c.window_start < s.current_period_start
     LIMIT 1`,
    [month.end],
  );
  const org = rows[0]?.org_id;
  if (!org) return undefined;
  return new BillingError(
    "PRECONDITION_FAILED",
    "month_in_open_window",
    `${month.label} cannot be archived yet: org ${org}'s billing period began before its end and a usage window reset into it may still read it`,
  );
}
