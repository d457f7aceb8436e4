import { prisma } from "@/server/db/client";
import { env } from "@/server/env";

import { foldLedger } from "./fold";

let timer: ReturnType<typeof setInterval> | undefined;

/**
 * Folds the ledger into the rollups every `ROLLUP_FOLD_INTERVAL_SECONDS` (default 10; 0 turns
 * it off) inside the web server, so a page's tail stays a few seconds long whatever the write
 * rate. Ticks never overlap (the fold's advisory lock also keeps several servers apart); a
 * failed tick is logged and the next one tries again. Returns a line for the log.
 */
export function startServerLedgerFolding(): string {
  const { ROLLUP_FOLD_INTERVAL_SECONDS: seconds } = env();
  if (seconds === 0) return "ledger folding off (ROLLUP_FOLD_INTERVAL_SECONDS=0)";
  let running = false;
  timer ??= setInterval(() => {
    if (running) return;
    running = true;
    foldLedger(prisma())
      .catch((error: unknown) => console.error(`[rollup] fold failed: ${error instanceof Error ? error.message : String(error)}`))
      .finally(() => (running = false));
  }, seconds * 1000);
  timer.unref();
  return `ledger folding every ${seconds} s`;
}
