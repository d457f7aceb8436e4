import { Prisma } from "@/server/db/client";
import type { Db } from "@/server/db/tx";

import type { LedgerFilter, LedgerTotal } from "../ledger-history";
import { ledgerTailCtes } from "./ledger-tail";

const DAY_MS = 86_400_000;
const floorDay = (d: Date) => new Date(Math.floor(d.getTime() / DAY_MS) * DAY_MS);
const ceilDay = (d: Date) => new Date(Math.ceil(d.getTime() / DAY_MS) * DAY_MS);
const isoDay = (d: Date) => d.toISOString().slice(0, 10);

/**
 * The Ledger page's totals per (metric, reason), from the rollups: whole UTC days inside the
 * range from usage_daily (without an org filter from usage_daily_totals, its sum over orgs:
 * a few rows per day instead of one per org) plus the unfolded tail, the partial days at either end (a `from` or
 * `to` that is not midnight) from the ledger itself — each row counted in exactly one of the
 * three. One statement, so one snapshot. Returns null when the rollups cannot answer (an
 * `actor` filter: they do not keep actors; a range inside one day): the caller scans.
 */
export async function ledgerTotalsFromRollups(db: Db, filter: LedgerFilter): Promise<LedgerTotal[] | null> {
  if (filter.actor) return null;
  const fullFrom = filter.from ? ceilDay(filter.from) : undefined;
  const fullTo = filter.to ? floorDay(filter.to) : undefined;
  if (fullFrom && fullTo && fullFrom >= fullTo) return null;

  const keys = (alias: string) => {
    const a = Prisma.raw(alias);
    const conditions: Prisma.Sql[] = [Prisma.sql`TRUE`];
    if (filter.orgId) conditions.push(Prisma.sql`${a}.org_id = ${filter.orgId}::uuid`);
    if (filter.metric) conditions.push(Prisma.sql`${a}.metric = ${filter.metric}`);
    if (filter.reason) conditions.push(Prisma.sql`${a}.reason = ${filter.reason}`);
    return Prisma.join(conditions, " AND ");
  };
  const daily = filter.orgId ? Prisma.sql`usage_daily` : Prisma.sql`usage_daily_totals`;
  const daysFrom = fullFrom ? Prisma.sql`AND d.day >= ${isoDay(fullFrom)}::date` : Prisma.empty;
  const daysTo = fullTo ? Prisma.sql`AND d.day < ${isoDay(fullTo)}::date` : Prisma.empty;
  const tailFrom = fullFrom ? Prisma.sql`AND t.timestamp >= ${fullFrom}` : Prisma.empty;
  const tailTo = fullTo ? Prisma.sql`AND t.timestamp < ${fullTo}` : Prisma.empty;
  const edges: Prisma.Sql[] = [];
  if (filter.from && fullFrom && fullFrom > filter.from)
    edges.push(Prisma.sql`(l.timestamp >= ${filter.from} AND l.timestamp < ${fullFrom})`);
  if (filter.to && fullTo && fullTo < filter.to) edges.push(Prisma.sql`(l.timestamp >= ${fullTo} AND l.timestamp < ${filter.to})`);
  const edgeRows = edges.length
    ? Prisma.sql`UNION ALL SELECT l.metric, l.reason, l.delta, 1 FROM usage_ledger l WHERE ${keys("l")} AND (${Prisma.join(edges, " OR ")})`
    : Prisma.empty;

  const tail = await ledgerTailCtes(db, "org_id, metric, reason, delta, timestamp");
  const rows = await db.$queryRaw<{ metric: string; reason: string; entries: string; total: string }[]>`
    WITH ${tail},
    parts AS (
      SELECT d.metric, d.reason, d.total, d.entries FROM ${daily} d WHERE ${keys("d")} ${daysFrom} ${daysTo}
      UNION ALL
      SELECT t.metric, t.reason, t.delta, 1 FROM ledger_tail t WHERE ${keys("t")} ${tailFrom} ${tailTo}
      ${edgeRows}
    )
    SELECT metric, reason, SUM(entries)::text AS entries, SUM(total)::text AS total
    FROM parts GROUP BY metric, reason HAVING SUM(entries) > 0 ORDER BY metric, reason`;
  return rows.map((r) => ({ metric: r.metric, reason: r.reason, entries: BigInt(r.entries), total: BigInt(r.total) }));
}
