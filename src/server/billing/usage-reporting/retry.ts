import { APIError } from "dodopayments";

/**
 * What to do with a batch Dodo did not accept. Pure: the reporter applies it to the rows.
 * - retry: Dodo or the network failed (429, 5xx, timeout, connection) or our key was refused
 *   (401/403: not the events' fault) — keep the rows pending until `delayMs` has passed;
 * - reject: Dodo named the events it refused — those older than its window become `expired`,
 *   those ahead of its clock are put off (`later`), any other named one `failed` (all
 *   visible); the rest is sent again at once;
 * - fail: Dodo refused the request as a whole (other 4xx) — the reporter splits the batch
 *   to find the event at fault; a single refused event becomes `failed` (visible).
 */
export type IngestFailure =
  | { kind: "retry"; delayMs: number; error: string }
  | { kind: "reject"; expired: string[]; later: string[]; failed: string[]; error: string }
  | { kind: "fail"; error: string };

export const MAX_BACKOFF_MS = 5 * 60_000;
/** Never sooner than this, whatever retry-after says (a `retry-after: 0` must not spin). */
export const MIN_RETRY_MS = 1_000;
const BASE_BACKOFF_MS = 1_000;

/** Exponential backoff for the `attempts`-th retry of a row (1 s, 2 s, 4 s … capped at 5 min). */
export function backoffMs(attempts: number): number {
  return Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** Math.max(0, attempts));
}

/** `retry-after-ms` or `retry-after` (seconds or an HTTP date), in ms; undefined when absent. */
export function retryAfterMs(headers: Headers | undefined, now: Date): number | undefined {
  const ms = Number(headers?.get("retry-after-ms") ?? Number.NaN);
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers?.get("retry-after");
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now.getTime());
}

function describe(error: APIError): string {
  const body = error.error as { code?: unknown; message?: unknown } | undefined;
  const detail = typeof body?.message === "string" ? body.message : error.message;
  return `${error.status ?? "network"}${typeof body?.code === "string" ? ` ${body.code}` : ""}: ${detail}`.slice(0, 500);
}

/** Classifies a failed ingest call. Errors that are not the SDK's API errors are bugs: rethrown. */
export function classifyIngestFailure(error: unknown, attempts: number, now: Date): IngestFailure {
  if (!(error instanceof APIError)) throw error;
  const status = error.status;
  if (status === undefined || status === 408 || status === 409 || status === 429 || status >= 500 || status === 401 || status === 403) {
    const delayMs = Math.max(MIN_RETRY_MS, retryAfterMs(error.headers, now) ?? backoffMs(attempts));
    const hint = status === 401 || status === 403 ? " (check DODO_PAYMENTS_API_KEY)" : "";
    return { kind: "retry", delayMs, error: `${describe(error)}${hint}` };
  }
  const failed = (error.error as { failed_events?: unknown } | undefined)?.failed_events;
  if (status === 400 && Array.isArray(failed)) {
    const named = failed
      .map((f) => f as { event_id?: unknown; error?: unknown })
      .filter((f): f is { event_id: string; error?: unknown } => typeof f?.event_id === "string");
    if (named.length > 0) {
      const text = (f: { error?: unknown }) => (typeof f.error === "string" ? f.error : "");
      const ahead = (f: { error?: unknown }) => /timestamp/i.test(text(f)) && /future|ahead/i.test(text(f));
      const tooOld = (f: { error?: unknown }) => /timestamp/i.test(text(f)) && !ahead(f);
      return {
        kind: "reject",
        expired: named.filter(tooOld).map((f) => f.event_id),
        later: named.filter(ahead).map((f) => f.event_id),
        failed: named.filter((f) => !tooOld(f) && !ahead(f)).map((f) => f.event_id),
        error: describe(error),
      };
    }
  }
  return { kind: "fail", error: describe(error) };
}
