import { prisma } from "@/server/db/client";
import { env } from "@/server/env";

import { runEvery, type IntervalHandle } from "../every-interval";
import { foldLedger } from "./fold";

let handle: IntervalHandle | undefined;

/**
 * Folds the ledger into the rollups every `ROLLUP_FOLD_INTERVAL_SECONDS` (default 10; 0 turns
 * it off) inside the web server, so a page's tail stays a few seconds long whatever the write
 * rate. Ticks never overlap (the fold's advisory lock also keeps several servers apart); a
 * failed tick is logged and the next one tries again. Returns a line for the log.
 */
export function startServerLedgerFolding(): string {
  const { ROLLUP_FOLD_INTERVAL_SECONDS: seconds } = env();
  if (seconds === 0) return "ledger folding off (ROLLUP_FOLD_INTERVAL_SECONDS=0)";
  handle ??= runEvery(
    seconds * 1000,
    async () => {
      await foldLedger(prisma());
      return undefined;
    },
    (line) => console.error(`[rollup] ${line}`),
  );
  return `ledger folding every ${seconds} s`;
}
