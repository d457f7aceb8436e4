import { diffFilterSchema, type DiffCursor, type DiffFilter } from "@/server/billing/backfill/dashboard-schemas";
import { BACKFILL_METRICS } from "@/server/billing/backfill/types";
import { UUID_SOURCE } from "@/server/billing/uuid";

import { instantIdCursorParam } from "../_lib/cursor-param";
import { firstParam, issueLines, type Params } from "../_lib/search-params";

/**
 * URL parameters of the Backfill pages and the diff CSV download: the page and the CSV read
 * the same filter, so a shared link or a download matches what is on screen.
 */

/** `metric`, `kind` and `org` (an org id, or the start of its slug); problems are reported, not thrown. */
export function readDiffFilter(params: Params): { filter: DiffFilter; problems: string[]; raw: Record<string, string> } {
  const raw = { metric: firstParam(params.metric) ?? "", kind: firstParam(params.kind) ?? "", org: firstParam(params.org) ?? "" };
  const parsed = diffFilterSchema.safeParse({ metric: raw.metric || undefined, kind: raw.kind || undefined, org: raw.org || undefined });
  if (parsed.success) return { filter: parsed.data, problems: [], raw };
  return { filter: {}, problems: issueLines(parsed.error), raw };
}

/** The diff keyset travels as `<org id>_<metric>`. */
export function readDiffCursor(value: string | string[] | undefined): DiffCursor | undefined {
  const match = firstParam(value)?.match(new RegExp(`^(${UUID_SOURCE})_([a-z_]+)$`, "i"));
  const metric = BACKFILL_METRICS.find((m) => m === match?.[2]);
  return match && metric ? { orgId: (match[1] as string).toLowerCase(), metric } : undefined;
}

export const diffCursorParam = (cursor: DiffCursor) => `${cursor.orgId}_${cursor.metric}`;

/** The runs keyset travels as `<ISO started at>_<id>`. */
const runCursor = instantIdCursorParam("startedAt", "id");
export const readRunCursor = runCursor.read;
export const runCursorParam = runCursor.write;
