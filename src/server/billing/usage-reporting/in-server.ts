import { prisma } from "@/server/db/client";
import { env } from "@/server/env";

import { createDodoClient } from "../dodo/client";
import { INGEST_TIMEOUT_MS } from "./ingest-events";
import { startUsageReporting, type UsageReportingHandle } from "./interval";

let handle: UsageReportingHandle | undefined;

/**
 * Starts the web server's usage reporter from the environment: every
 * `USAGE_REPORT_INTERVAL_SECONDS` (default 30; 0 turns it off), only when
 * `DODO_PAYMENTS_API_KEY` is set. Returns why it did not start, for the log.
 */
export function startServerUsageReporting(): string {
  const { USAGE_REPORT_INTERVAL_SECONDS: seconds } = env();
  if (seconds === 0) return "usage reporting off (USAGE_REPORT_INTERVAL_SECONDS=0)";
  // The reporter retries on its own schedule (next_attempt_at), never inside the SDK while
  // it holds the claimed rows.
  const api = createDodoClient({ maxRetries: 0, timeout: INGEST_TIMEOUT_MS });
  if (!api) return "usage reporting off (no DODO_PAYMENTS_API_KEY)";
  handle ??= startUsageReporting({ prisma: prisma(), api, intervalMs: seconds * 1000 });
  return `usage reporting every ${seconds} s`;
}
