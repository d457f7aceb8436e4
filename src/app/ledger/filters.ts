import { METRICS } from "@/server/billing/catalogue";
import { ledgerFilterSchema, type LedgerFilter } from "@/server/billing/ledger-history";

import { instantIdCursorParam } from "../_lib/cursor-param";
import { firstParam, issueLines, parseInstant, type Params } from "../_lib/search-params";

/**
 * The ledger filter from URL parameters (the page and the CSV export share it, so a link
 * can be shared and an export matches what is on screen). Problems are reported, not thrown.
 */
export function readLedgerFilter(params: Params): { filter: LedgerFilter; problems: string[]; raw: Record<string, string> } {
  const raw = {
    org: firstParam(params.org) ?? "",
    metric: firstParam(params.metric) ?? "",
    reason: firstParam(params.reason) ?? "",
    actor: firstParam(params.actor) ?? "",
    from: firstParam(params.from) ?? "",
    to: firstParam(params.to) ?? "",
  };
  const problems: string[] = [];
  const from = parseInstant(raw.from || undefined, false);
  const to = parseInstant(raw.to || undefined, true);
  if (from === "invalid") problems.push("from: not a date (use YYYY-MM-DD, UTC)");
  if (to === "invalid") problems.push("to: not a date (use YYYY-MM-DD, UTC)");
  if (raw.metric && !(METRICS as readonly string[]).includes(raw.metric)) problems.push(`metric: unknown metric ${raw.metric}`);
  const parsed = ledgerFilterSchema.safeParse({
    orgId: raw.org || undefined,
    metric: raw.metric && (METRICS as readonly string[]).includes(raw.metric) ? raw.metric : undefined,
    reason: raw.reason || undefined,
    actor: raw.actor || undefined,
    from: from === "invalid" ? undefined : from,
    to: to === "invalid" ? undefined : to,
  });
  if (!parsed.success) {
    problems.push(...issueLines(parsed.error));
    return { filter: {}, problems, raw };
  }
  return { filter: parsed.data, problems, raw };
}

/** The keyset cursor travels in the URL as `<ISO timestamp>_<id>`. */
const ledgerCursorParam = instantIdCursorParam("timestamp", "id");
export const readCursor = ledgerCursorParam.read;
export const cursorParam = ledgerCursorParam.write;
