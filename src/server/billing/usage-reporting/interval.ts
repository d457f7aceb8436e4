import type { PrismaClient } from "@/server/db/client";

import { runEvery, type IntervalHandle } from "../every-interval";
import { type UsageIngestApi } from "./ingest-events";
import { reportUsage, type ReportUsageResult } from "./reporter";

export type UsageReportingHandle = IntervalHandle;

export interface UsageReportingOptions {
  prisma: PrismaClient;
  api: UsageIngestApi;
  intervalMs: number;
  /** Only this organization's rows (the server reports all; a test shares its database). */
  orgId?: string;
  log?: (line: string) => void;
}

/**
 * Reports usage every `intervalMs` inside a long-running process (the web server). A tick
 * never overlaps the previous one; a failed tick is logged and the next one tries again —
 * the rows stay pending, so nothing is lost between ticks. Other reporters (another server,
 * `npm run report-usage`) may run at the same time: they claim disjoint rows.
 */
export function startUsageReporting(options: UsageReportingOptions): UsageReportingHandle {
  const log = options.log ?? ((line: string) => console.log(`[usage-reporting] ${line}`));
  return runEvery(
    options.intervalMs,
    async () => {
      const result: ReportUsageResult = await reportUsage(options.prisma, options.api, { orgId: options.orgId });
      if (result.batches === 0) return undefined;
      return `sent ${result.sent}, expired ${result.expired}, failed ${result.failed}, deferred ${result.deferred} in ${result.batches} batches${result.errors.length ? ` (${result.errors.join("; ")})` : ""}`;
    },
    log,
  );
}
