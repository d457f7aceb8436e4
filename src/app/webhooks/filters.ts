import { webhookEventFilterSchema, type WebhookCursor, type WebhookEventFilter } from "@/server/billing/dodo/webhook-events";
import { WEBHOOK_STATUSES } from "@/server/billing/dodo/webhook-status";

import { firstParam, issueLines, parseInstant, type Params } from "../_lib/search-params";

/**
 * The Webhooks page's filter and cursor, read from and written to the URL, so a filtered
 * view (e.g. the overview's "failed or needs attention" link) can be shared. Bad values are
 * reported as problems, never thrown.
 */

/** A type, not an interface: the query-string builder takes it as a record of values. */
export type WebhookFilterRaw = {
  type: string;
  /** Comma-separated statuses, e.g. `failed,needs_attention`. */
  status: string;
  org: string;
  from: string;
  to: string;
};

export function readWebhookFilter(params: Params): { filter: WebhookEventFilter; problems: string[]; raw: WebhookFilterRaw } {
  const raw: WebhookFilterRaw = {
    type: firstParam(params.type) ?? "",
    status: firstParam(params.status) ?? "",
    org: firstParam(params.org) ?? "",
    from: firstParam(params.from) ?? "",
    to: firstParam(params.to) ?? "",
  };
  const problems: string[] = [];
  const statuses = raw.status
    ? raw.status
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)
    : [];
  const unknown = statuses.filter((s) => !(WEBHOOK_STATUSES as readonly string[]).includes(s));
  if (unknown.length) problems.push(`status: unknown status ${unknown.join(", ")} (one of ${WEBHOOK_STATUSES.join(", ")})`);
  const from = parseInstant(raw.from || undefined, false);
  const to = parseInstant(raw.to || undefined, true);
  if (from === "invalid") problems.push("from: not a date (use YYYY-MM-DD, UTC)");
  if (to === "invalid") problems.push("to: not a date (use YYYY-MM-DD, UTC)");
  const parsed = webhookEventFilterSchema.safeParse({
    type: raw.type || undefined,
    statuses: statuses.length && !unknown.length ? [...new Set(statuses)] : undefined,
    orgId: raw.org || undefined,
    from: from === "invalid" ? undefined : from,
    to: to === "invalid" ? undefined : to,
  });
  if (!parsed.success) {
    problems.push(...issueLines(parsed.error));
    return { filter: {}, problems, raw };
  }
  return { filter: parsed.data, problems, raw };
}

/** The keyset cursor travels in the URL as `<ISO received_at>|<webhook-id>` (ids may hold `_`, never `|` in an ISO date). */
export function readWebhookCursor(value: string | string[] | undefined): WebhookCursor | undefined {
  const text = firstParam(value);
  const bar = text?.indexOf("|") ?? -1;
  if (!text || bar < 1) return undefined;
  const receivedAt = new Date(text.slice(0, bar));
  const id = text.slice(bar + 1);
  return Number.isNaN(receivedAt.getTime()) || !id || id.length > 200 ? undefined : { receivedAt, id };
}

export const webhookCursorParam = (cursor: WebhookCursor) => `${cursor.receivedAt.toISOString()}|${cursor.id}`;

/** The link to one event's page (webhook-ids are Dodo's strings: encode them). */
export const webhookHref = (id: string) => `/webhooks/${encodeURIComponent(id)}`;
