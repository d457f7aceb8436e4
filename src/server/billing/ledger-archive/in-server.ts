import { prisma } from "@/server/db/client";

import { runEvery, type IntervalHandle } from "../every-interval";
import { ensureLedgerMonthsAhead } from "./months-ahead";

/** Hourly: a month's partition is due days ahead (LEDGER_MONTHS_AHEAD months), so an hour is plenty and costs one cheap call. */
export const LEDGER_MONTHS_INTERVAL_MS = 60 * 60 * 1000;

let handle: IntervalHandle | undefined;

/** Starts the web server's ledger-months keeper (months-ahead.ts). Returns a line for the log. */
export function startServerLedgerMonths(): string {
  handle ??= runEvery(
    LEDGER_MONTHS_INTERVAL_MS,
    async () => {
      const created = await ensureLedgerMonthsAhead(prisma(), new Date());
      return created > 0 ? `created ${created} ledger month partition(s)` : undefined;
    },
    (line) => console.log(`[ledger-months] ${line}`),
  );
  return "ledger partitions of this month and the next two checked hourly";
}
