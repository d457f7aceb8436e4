import { z } from "zod";

import { Prisma } from "@/server/db/client";
import type { Db } from "@/server/db/tx";

import { metricSchema } from "./catalogue";
import { keysetPage, keysetTake, type KeysetPage } from "./keyset-page";
import { LEDGER_COLUMNS, toLedgerEntry, type LedgerEntry, type LedgerRow } from "./ledger-entry";
import { ledgerTotalsFromRollups } from "./rollup/ledger-totals";
import { orgIdSchema, reasonSchema } from "./schemas";

/**
 * Finance's view of the ledger across organizations: filters, keyset pages (newest first,
 * never OFFSET, so page 10 000 costs what page 1 costs), totals per metric and reason, and a
 * CSV export (./ledger-export.ts: COPY straight to the response).
 *
 * The filter takes catalogue metrics only, but what it reads back is any stored row: a row
 * whose metric the catalogue does not know (written by a newer deploy, or for a retired
 * metric) comes back with its raw name, never as an error.
 */

export const ledgerFilterSchema = z
  .object({
    orgId: orgIdSchema.optional(),
    metric: metricSchema.optional(),
    reason: reasonSchema.optional(),
    actor: z.string().trim().min(1).max(200).optional(),
    /** Inclusive lower bound, UTC. */
    from: z.date().optional(),
    /** Exclusive upper bound, UTC. */
    to: z.date().optional(),
  })
  .refine((f) => !f.from || !f.to || f.from < f.to, { path: ["to"], message: "must be after from" });
export type LedgerFilter = z.infer<typeof ledgerFilterSchema>;

export const ledgerCursorSchema = z.object({ timestamp: z.date(), id: z.uuid() });
export type LedgerCursor = z.infer<typeof ledgerCursorSchema>;

/** A stored ledger row with its org's name; `metric` is whatever the row holds (see above). */
export type LedgerHistoryEntry = Omit<LedgerEntry, "metric"> & { metric: string; orgName: string };

/** Newest first: `nextCursor` leads to older entries. */
export type LedgerPage = KeysetPage<LedgerHistoryEntry, LedgerCursor>;

/**
 * The sum of one metric's deltas for one reason. Per metric, because deltas of different
 * metrics (members, bytes, calls) do not add up to anything.
 */
export interface LedgerTotal {
  metric: string;
  reason: string;
  entries: bigint;
  total: bigint;
}

/** The filter (and a page's cursor) as SQL over `usage_ledger l`; the CSV export writes it into its COPY. */
export function ledgerWhereClause(filter: LedgerFilter, cursor?: LedgerCursor): Prisma.Sql {
  const conditions: Prisma.Sql[] = [];
  if (filter.orgId) conditions.push(Prisma.sql`l.org_id = ${filter.orgId}::uuid`);
  if (filter.metric) conditions.push(Prisma.sql`l.metric = ${filter.metric}`);
  if (filter.reason) conditions.push(Prisma.sql`l.reason = ${filter.reason}`);
  if (filter.actor) conditions.push(Prisma.sql`l.actor = ${filter.actor}`);
  if (filter.from) conditions.push(Prisma.sql`l.timestamp >= ${filter.from}`);
  if (filter.to) conditions.push(Prisma.sql`l.timestamp < ${filter.to}`);
  if (cursor) conditions.push(Prisma.sql`(l.timestamp, l.id) < (${cursor.timestamp}, ${cursor.id}::uuid)`);
  return conditions.length ? Prisma.sql`WHERE ${Prisma.join(conditions, " AND ")}` : Prisma.empty;
}

const qualifiedColumns = Prisma.raw(
  LEDGER_COLUMNS.split(", ")
    .map((c) => `l.${c}`)
    .join(", "),
);

export async function listLedger(db: Db, filter: LedgerFilter, page: { cursor?: LedgerCursor; limit: number }): Promise<LedgerPage> {
  const rows = await db.$queryRaw<(LedgerRow & { org_name: string })[]>`
    SELECT ${qualifiedColumns}, o.name AS org_name
    FROM usage_ledger l JOIN organizations o ON o.id = l.org_id
    ${ledgerWhereClause(filter, page.cursor)}
    ORDER BY l.timestamp DESC, l.id DESC
    LIMIT ${keysetTake(page.limit)}`;
  const { items, nextCursor } = keysetPage(rows, page.limit, (last) => ({ timestamp: last.timestamp, id: last.id }));
  return { items: items.map((r) => ({ ...toLedgerEntry(r), metric: r.metric, orgName: r.org_name })), nextCursor };
}

/** Totals of the filtered rows per (metric, reason), ordered by metric, then reason. */
export async function ledgerTotals(db: Db, filter: LedgerFilter): Promise<LedgerTotal[]> {
  // The rollups answer without rescanning millions of rows; only what they cannot (an actor
  // filter, a range inside one day) is summed from the ledger here.
  const fromRollups = await ledgerTotalsFromRollups(db, filter);
  if (fromRollups) return fromRollups;
  const rows = await db.$queryRaw<{ metric: string; reason: string; entries: bigint; total: bigint }[]>`
    SELECT l.metric, l.reason, count(*)::bigint AS entries, COALESCE(SUM(l.delta), 0)::bigint AS total
    FROM usage_ledger l ${ledgerWhereClause(filter)}
    GROUP BY l.metric, l.reason ORDER BY l.metric, l.reason`;
  return rows.map((r) => ({ metric: r.metric, reason: r.reason, entries: BigInt(r.entries), total: BigInt(r.total) }));
}
