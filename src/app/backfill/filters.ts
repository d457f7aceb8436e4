import { type DiffCursor, type DiffFilter, diffFilterSchema, type RunCursor } from "@/server/billing/backfill/dashboard-schemas";
import { BACKFILL_METRICS } from "@/server/billing/backfill/types";
import { UUID_SOURCE } from "@/server/billing/schemas";
import { type Params, firstParam, issueLines } from "../_lib/search-params";

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
export function readRunCursor(value: string | string[] | undefined): RunCursor | undefined {
  const match = firstParam(value)?.match(new RegExp(`^(.+)_(${UUID_SOURCE})$`, "i"));
  if (!match) return undefined;
  const startedAt = new Date(match[1] as string);
  return Number.isNaN(startedAt.getTime()) ? undefined : { startedAt, id: (match[2] as string).toLowerCase() };
}

export const runCursorParam = (cursor: RunCursor) => `${cursor.startedAt.toISOString()}_${cursor.id}`;

export function queryString(raw: Record<string, string>, extra: Record<string, string> = {}): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries({ ...raw, ...extra })) if (value) query.set(key, value);
  return query.toString();
}
