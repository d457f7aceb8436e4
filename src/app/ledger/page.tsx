import type { Metadata } from "next";
import Link from "next/link";

import { roleAtLeast } from "@/server/auth";
import { api, currentStaff } from "@/trpc/server";

import { DataTable } from "../_components/data-table";
import { FilterForm } from "../_components/filter-form";
import { FilterProblems } from "../_components/filter-problems";
import { KeysetPager } from "../_components/keyset-pager";
import { MetricName } from "../_components/metric-name";
import { MetricSelect } from "../_components/metric-select";
import { UtcTime } from "../_components/utc-time";
import { formatCount } from "../_lib/format";
import { formatSignedAmount, formatSignedQuantity } from "../_lib/metric-display";
import { queryString, withQuery } from "../_lib/query-string";
import { ArchivedMonths } from "./archived-months";
import { cursorParam, readCursor, readLedgerFilter } from "./filters";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Ledger" };

const PAGE_SIZE = 50;
type SearchParams = Promise<Record<string, string | string[] | undefined>>;

export default async function LedgerPage({ searchParams }: { searchParams: SearchParams }) {
  const params = await searchParams;
  const { filter, problems, raw } = readLedgerFilter(params);
  const cursor = readCursor(params.after);
  const session = await currentStaff();
  const canExport = roleAtLeast(session?.user.role, "finance");
  const [[page, totals], archives] = await Promise.all([
    problems.length
      ? Promise.resolve([{ items: [], nextCursor: null }, []] as const)
      : Promise.all([api.billing.ledger.list({ filter, cursor, limit: PAGE_SIZE }), api.billing.ledger.totals({ filter })]),
    api.billing.ledger.archives(),
  ]);
  const query = queryString(raw);

  return (
    <>
      <h1>Ledger</h1>
      <p className="muted">Every usage change across organizations, newest first. Times are UTC.</p>

      <FilterForm action="/ledger" label="Ledger filters" clearHref={query ? "/ledger" : null}>
        <div className="field">
          <label htmlFor="ledger-org">Organization id</label>
          <input id="ledger-org" name="org" defaultValue={raw.org} placeholder="UUID" autoComplete="off" />
        </div>
        <div className="field">
          <label htmlFor="ledger-metric">Metric</label>
          <MetricSelect id="ledger-metric" defaultValue={raw.metric} anyLabel="All metrics" />
        </div>
        <div className="field">
          <label htmlFor="ledger-reason">Reason</label>
          <input id="ledger-reason" name="reason" defaultValue={raw.reason} placeholder="e.g. manual_adjustment" />
        </div>
        <div className="field">
          <label htmlFor="ledger-actor">Actor</label>
          <input id="ledger-actor" name="actor" defaultValue={raw.actor} placeholder="e.g. staff:ana@…" />
        </div>
        <div className="field">
          <label htmlFor="ledger-from">From (UTC)</label>
          <input id="ledger-from" name="from" type="date" defaultValue={raw.from} />
        </div>
        <div className="field">
          <label htmlFor="ledger-to">To (UTC, inclusive)</label>
          <input id="ledger-to" name="to" type="date" defaultValue={raw.to} />
        </div>
      </FilterForm>

      {problems.length ? <FilterProblems problems={problems} /> : null}

      <section aria-label="Totals per metric and reason">
        <h2>Totals per metric and reason{query ? " (filtered)" : ""}</h2>
        {totals.length === 0 ? (
          <p className="muted">No ledger entries match.</p>
        ) : (
          <DataTable label="Totals per metric and reason">
            <thead>
              <tr>
                <th scope="col">Metric</th>
                <th scope="col">Reason</th>
                <th scope="col" className="num">
                  Entries
                </th>
                <th scope="col" className="num">
                  Sum of deltas
                </th>
              </tr>
            </thead>
            <tbody>
              {totals.map((t) => (
                <tr key={JSON.stringify([t.metric, t.reason])}>
                  <td>
                    <MetricName metric={t.metric} />
                  </td>
                  <td>{t.reason}</td>
                  <td className="num">{formatCount(t.entries)}</td>
                  <td className="num">{formatSignedQuantity(t.metric, t.total)}</td>
                </tr>
              ))}
            </tbody>
          </DataTable>
        )}
        {canExport ? (
          <p>
            <a href={withQuery("/api/ledger/export", raw)} download>
              Download CSV of the whole filtered range
            </a>
            {archives.length ? <span className="muted"> (archived months excepted: their rows are in the files below)</span> : null}
          </p>
        ) : null}
      </section>

      <section aria-label="Entries">
        <h2>Entries</h2>
        {page.items.length === 0 ? (
          <p className="muted">{cursor ? "No older entries." : "No ledger entries match."}</p>
        ) : (
          <DataTable label="Ledger entries">
            <thead>
              <tr>
                <th scope="col">Time (UTC)</th>
                <th scope="col">Organization</th>
                <th scope="col">Metric</th>
                <th scope="col" className="num">
                  Delta
                </th>
                <th scope="col">Reason</th>
                <th scope="col">Actor</th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((e) => (
                <tr key={e.id}>
                  <td>
                    <UtcTime value={e.timestamp} precision="millisecond" />
                  </td>
                  <td>
                    <Link href={withQuery("/ledger", raw, { org: e.orgId })}>{e.orgName}</Link>
                  </td>
                  <td>
                    <MetricName metric={e.metric} />
                  </td>
                  <td className="num">{formatSignedAmount(e.metric, e.delta)}</td>
                  <td>{e.reason}</td>
                  <td>{e.actor}</td>
                </tr>
              ))}
            </tbody>
          </DataTable>
        )}
        <KeysetPager
          label="Ledger pages"
          firstHref={cursor ? withQuery("/ledger", raw) : null}
          nextHref={page.nextCursor ? withQuery("/ledger", raw, { after: cursorParam(page.nextCursor) }) : null}
          nextLabel="Older entries →"
        />
      </section>

      <ArchivedMonths archives={archives} />
    </>
  );
}
