import { Prisma } from "@/server/db/client";
import { PG, pgError } from "@/server/db/pg-errors";
import type { RawQuery } from "@/server/db/raw-query";

import type { Metric } from "./catalogue";
import type { LedgerWork } from "./ledger-entry";
import { ledgerInsertCtes } from "./ledger-insert-sql";
import { SUBSCRIPTION_TEXT, type SubscriptionSnapshot } from "./policy-context";
import { INT64_MAX } from "./schemas";
import { bandSet, refreshAlertBands, STALE_BANDS_COLUMN, type StaleBand } from "./usage-alerts/alert-band";
import { DECIDE_USAGE_ALERTS, MOVED_ROW_RETURNING } from "./usage-alerts/alert-sql";
import { batchRaced, repeatOf, type BatchEventResult, type BatchItem } from "./usage-batch";
import { REPORT_METERED_USAGE_PER_ORG } from "./usage-reporting/outbox-sql";
import { currentWindow, windowFollowsSubscription } from "./usage-window";

/**
 * incrementMany's common case in ONE statement (a billing-period metric's window needs the
 * org's subscription: read once, then remembered and re-checked by the statement itself): lock the batch's cache rows in key order, find the
 * keys already in the ledger (when that can change the judging), judge the new events, insert them, put the metered ones in the
 * outbox and move every cache row by its sum — all from column arrays (`unnest`), no per-row
 * objects.
 *
 * The statement writes only when judging needs nothing sequential: every (org, metric) has
 * its cache row, no period counter's window has to start (window-reset.ts), and every running
 * count stays in [0, 2^63-1] with every new event counted (prefix sums over the batch order,
 * in numeric) — then "each event judged in order" accepts them all, as usage-batch.ts would.
 * Otherwise it writes nothing and answers `judged: false`, and the caller runs usage-batch.ts's
 * transaction, which creates rows, starts windows and rejects events one by one. The answers
 * are the same either way; only the number of round trips differs.
 *
 * Lock order as every usage write: the cache rows (sorted) before any key (the insert). The
 * statement's snapshot predates its locks, so a key a concurrent write committed while this
 * waited is not among `prior`: ON CONFLICT drops that event ("lost"). When losing it could
 * change how the others were judged (`exactPrior`: a decrement in the batch, atomic mode) the
 * statement fails itself (batch_raced) and nothing of it is written; the retry sees the key.
 * Otherwise the dropped events are judged afterwards against the rows holding their keys
 * (duplicate or rejected), as usage-batch.ts judges its lost ones.
 */

/** The marker the statement casts to int to fail itself (22P02, its text in the message). */
const RACED_MARKER = "batch_raced";

export interface OneStatementOptions {
  at: Date;
  /** The statement is its own transaction (no caller's): what follows it must not fail it. */
  ownStatement: boolean;
  fallbackActor: string;
  atomic: boolean;
  /**
   * Find the keys already in the ledger before judging, and fail the statement when ON
   * CONFLICT drops an event anyway (a key committed while it waited): needed when a dropped
   * event could change how the others are judged — a decrement in the batch, or atomic mode.
   * Without it (only increments, not atomic) every event is judged as new, which can only
   * overstate the running counts (a needless fall-back, never a wrong acceptance), and the
   * events ON CONFLICT drops are judged afterwards against the rows that hold their keys.
   */
  exactPrior: boolean;
  /**
   * Each org of the batch with its subscription, when a billing-period metric needs it
   * (absent: no such org). It may be remembered from an earlier batch: the statement checks
   * that each org's subscription is still exactly this one, and writes nothing otherwise
   * (answering "stale_subscriptions": read them again).
   */
  subscriptions?: Map<string, SubscriptionSnapshot>;
}

/** Why the statement wrote nothing: the batch needs the sequential path, or fresher subscriptions. */
export type NotWritten = "sequential" | "stale_subscriptions";

interface Answer {
  judged: boolean;
  subscriptions_current: boolean;
  lost: string[] | null;
  prior_idx: number[] | null;
  prior_id: string[] | null;
  prior_metric: string[] | null;
  prior_delta: (string | bigint)[] | null;
  stale_bands: StaleBand[] | null;
}

/**
 * Runs the one statement for `items` (valid events of known-or-unknown orgs). When it wrote
 * nothing, says why (NotWritten); otherwise fills `results` for every item except the ones ON
 * CONFLICT dropped, which it returns for judging against the rows holding their keys.
 */
export async function writeBatchInOneStatement(
  run: RawQuery,
  items: BatchItem[],
  results: (BatchEventResult | undefined)[],
  options: OneStatementOptions,
): Promise<{ lost: BatchItem[] } | NotWritten> {
  let candidates = items;
  if (options.subscriptions) {
    const known = options.subscriptions;
    // Atomic: an unknown org rejects the batch, which the sequential path reports.
    if (options.atomic && items.some((v) => !known.has(v.event.orgId))) return "sequential";
    candidates = items.filter(({ index, event }) => {
      if (known.has(event.orgId)) return true;
      results[index] = {
        index,
        status: "rejected",
        reason: { code: "org_not_found", message: `Organization ${event.orgId} does not exist` },
      };
      return false;
    });
    if (candidates.length === 0) return { lost: [] };
  }
  // The (org, metric) pairs, sorted as the lock order wants, with the window each counts in
  // now and, for a billing-period window, the subscription text it was computed from.
  const windows = new Map<string, { start: Date | null; subscription: string | null; follows: boolean }>();
  for (const { event } of candidates) {
    const pair = `${event.orgId}|${event.metric}`;
    if (!windows.has(pair)) {
      const follows = windowFollowsSubscription(event.metric);
      const snapshot = follows ? options.subscriptions?.get(event.orgId) : undefined;
      const window = currentWindow(event.metric as Metric, snapshot?.state ?? null, options.at);
      windows.set(pair, { start: window?.start ?? null, subscription: snapshot?.text ?? null, follows });
    }
  }
  const pairs = [...windows.keys()].sort();
  const pairWindow = (pair: string) => windows.get(pair) as { start: Date | null; subscription: string | null; follows: boolean };
  const metadata = candidates.map((v) => JSON.stringify(v.event.metadata ?? {}));

  let answer: Answer | undefined;
  try {
    [answer] = await run<Answer>(Prisma.sql`
      WITH e AS (
        SELECT * FROM unnest(
          ${candidates.map((v) => v.id)}::uuid[],
          ${candidates.map((v) => v.event.orgId)}::uuid[],
          ${candidates.map((v) => v.event.metric)}::text[],
          ${candidates.map((v) => v.event.amount.toString())}::bigint[],
          ${candidates.map((v) => v.event.reason)}::text[],
          ${candidates.map((v) => v.event.idempotencyKey ?? null)}::text[],
          ${candidates.map((v) => v.event.actor ?? options.fallbackActor)}::text[],
          ${metadata}::jsonb[]) WITH ORDINALITY AS e(id, org_id, metric, delta, reason, idempotency_key, actor, metadata, idx)
      ), p AS (
        SELECT * FROM unnest(${pairs.map((p) => p.split("|")[0] as string)}::uuid[], ${pairs.map((p) => p.split("|")[1] as string)}::text[],
                             ${pairs.map((p) => pairWindow(p).start)}::timestamptz[], ${pairs.map((p) => pairWindow(p).follows)}::boolean[],
                             ${pairs.map((p) => pairWindow(p).subscription)}::text[]) AS p(org_id, metric, ws, follows, subscription)
      ), current AS (
        -- Each billing-period window was computed from the subscription the org still has.
        SELECT NOT EXISTS (SELECT 1 FROM p JOIN organizations o ON o.id = p.org_id
                           WHERE p.follows AND ${SUBSCRIPTION_TEXT} IS DISTINCT FROM p.subscription) AS subscriptions
      ), locked AS (
        SELECT c.org_id, c.metric, c.count, c.window_start FROM usage_cache c
        WHERE (c.org_id, c.metric) IN (SELECT org_id, metric FROM p)
        ORDER BY c.org_id, c.metric FOR UPDATE
      ), prior AS (
        SELECT e.idx, k.ledger_id AS id, k.metric, k.delta, (k.metric <> e.metric OR k.delta <> e.delta) AS conflicts
        FROM e JOIN usage_idempotency_keys k ON k.org_id = e.org_id AND k.idempotency_key = e.idempotency_key
        WHERE ${options.exactPrior}::boolean
      ), fresh AS (
        SELECT e.* FROM e WHERE NOT EXISTS (SELECT 1 FROM prior WHERE prior.idx = e.idx)
      ), running AS (
        SELECT locked.count::numeric + SUM(f.delta::numeric) OVER (PARTITION BY f.org_id, f.metric ORDER BY f.idx) AS count
        FROM fresh f JOIN locked ON locked.org_id = f.org_id AND locked.metric = f.metric
      ), verdict AS (
        SELECT (SELECT subscriptions FROM current)
          AND (SELECT count(*) FROM locked) = (SELECT count(*) FROM p)
          AND NOT EXISTS (SELECT 1 FROM locked JOIN p ON p.org_id = locked.org_id AND p.metric = locked.metric
                          WHERE p.ws IS NOT NULL AND (locked.window_start IS NULL OR locked.window_start < p.ws))
          AND NOT EXISTS (SELECT 1 FROM running WHERE running.count < 0 OR running.count > ${INT64_MAX.toString()}::numeric)
          AND NOT (${options.atomic}::boolean AND EXISTS (SELECT 1 FROM prior WHERE prior.conflicts)) AS judged
      ), ${ledgerInsertCtes(
        "ins",
        Prisma.sql`SELECT id, org_id, metric, delta, reason, idempotency_key, actor, metadata, ${options.at}::timestamptz
        FROM fresh WHERE (SELECT judged FROM verdict) ORDER BY idx`,
      )}${REPORT_METERED_USAGE_PER_ORG}, upd AS (
        -- From the LOCKED count, never c.count (window-reset.ts, STALE_ROW).
        UPDATE usage_cache c SET count = locked.count + t.total, last_updated = t.at${bandSet("locked.count + t.total", "t.at")}
        FROM (SELECT org_id, metric, SUM(delta) AS total, max(timestamp) AS at FROM ins GROUP BY org_id, metric) t
        JOIN locked ON locked.org_id = t.org_id AND locked.metric = t.metric
        WHERE c.org_id = t.org_id AND c.metric = t.metric
        RETURNING ${MOVED_ROW_RETURNING}
      )${DECIDE_USAGE_ALERTS}
      SELECT j.judged, (SELECT subscriptions FROM current) AS subscriptions_current,
        CASE WHEN j.judged AND ${options.exactPrior}::boolean AND (SELECT count(*) FROM ins) < (SELECT count(*) FROM fresh)
          -- Not a constant, so the planner cannot fold it: fails the statement, all of it undone.
          THEN (${RACED_MARKER}::text || ':' || (SELECT count(*) FROM ins))::int END AS raced,
        -- The new events ON CONFLICT dropped; usually none (returning the inserted ids instead
        -- would cost a 1 000-element array to parse per batch).
        ARRAY(SELECT f.id::text FROM fresh f WHERE NOT EXISTS (SELECT 1 FROM ins WHERE ins.id = f.id)) AS lost,
        ARRAY(SELECT idx::int FROM prior ORDER BY idx) AS prior_idx,
        ARRAY(SELECT id::text FROM prior ORDER BY idx) AS prior_id,
        ARRAY(SELECT metric FROM prior ORDER BY idx) AS prior_metric,
        ARRAY(SELECT delta::text FROM prior ORDER BY idx) AS prior_delta,
        ${STALE_BANDS_COLUMN}
      FROM verdict j`);
  } catch (error) {
    throw isRaceFailure(error) ? batchRaced() : error;
  }
  if (!answer?.judged) return answer?.subscriptions_current === false ? "stale_subscriptions" : "sequential";
  const stale = answer.stale_bands;
  await refreshAlertBands(run, stale, options.at, { afterCommit: options.ownStatement });

  const prior = new Map<number, LedgerWork & { id: string }>();
  (answer.prior_idx ?? []).forEach((idx, i) => {
    prior.set(idx, {
      id: answer.prior_id?.[i] as string,
      metric: answer.prior_metric?.[i] as string,
      delta: BigInt(answer.prior_delta?.[i] ?? 0),
    });
  });
  const dropped = new Set(answer.lost ?? []);
  const lost: BatchItem[] = [];
  candidates.forEach((item, i) => {
    // WITH ORDINALITY counts from 1.
    const stored = prior.get(i + 1);
    if (stored) results[item.index] = repeatOf(item.index, item.event, stored);
    else if (dropped.has(item.id)) lost.push(item);
    else results[item.index] = applied(item, metadata[i] as string, options);
  });
  return { lost };
}

/** The entry the inserted row holds, built from what was sent (the row is exactly that). */
function applied(item: BatchItem, metadata: string, options: OneStatementOptions): BatchEventResult {
  const { event } = item;
  return {
    index: item.index,
    status: "applied",
    entry: {
      id: item.id,
      orgId: event.orgId,
      metric: event.metric,
      delta: event.amount,
      reason: event.reason,
      timestamp: options.at,
      idempotencyKey: event.idempotencyKey ?? null,
      actor: event.actor ?? options.fallbackActor,
      // As jsonb gives it back: JSON's own value space.
      metadata: metadata === "{}" ? {} : (JSON.parse(metadata) as Record<string, unknown>),
    },
  };
}

/**
 * The statement's failures that a fresh run resolves: its own lost-key marker, or a count the
 * database refused after ON CONFLICT dropped an event the judging had counted.
 */
function isRaceFailure(error: unknown): boolean {
  const pg = pgError(error);
  if (!pg) return false;
  if (pg.code === "22P02") return pg.message.includes(RACED_MARKER);
  return pg.code === PG.checkViolation || pg.code === PG.numericValueOutOfRange;
}
