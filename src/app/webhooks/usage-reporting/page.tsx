import type { Metadata } from "next";
import Link from "next/link";

import { UNSENT_STATUSES } from "@/server/billing/dodo/outbox-status";
import { api } from "@/trpc/server";

import { DataTable } from "../../_components/data-table";
import { FilterForm } from "../../_components/filter-form";
import { KeysetPager } from "../../_components/keyset-pager";
import { UtcTime } from "../../_components/utc-time";
import { instantIdCursorParam } from "../../_lib/cursor-param";
import { formatCount } from "../../_lib/format";
import { withQuery } from "../../_lib/query-string";
import { firstParam } from "../../_lib/search-params";
import { formatAge, LAG_WARNING_SECONDS } from "../format";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Usage reporting" };

const PAGE_SIZE = 50;
type SearchParams = Promise<Record<string, string | string[] | undefined>>;
type Unsent = (typeof UNSENT_STATUSES)[number];

/** `status=expired|failed` (else both). */
function readStatuses(value: string | undefined): Unsent[] {
  return (UNSENT_STATUSES as readonly string[]).includes(value ?? "") ? [value as Unsent] : [...UNSENT_STATUSES];
}

/** The keyset cursor in the URL: `<ISO event time>_<ledger id>`. */
const outboxCursorParam = instantIdCursorParam("eventTimestamp", "ledgerId");

function Stat({ id, label, value, note, tone }: { id: string; label: string; value: string; note?: string; tone?: "good" | "bad" }) {
  return (
    <section className={`stat${tone ? ` stat-${tone}` : ""}`} aria-labelledby={id}>
      <h2 id={id} className="stat-label">
        {label}
      </h2>
      <p className="stat-value" data-testid={id}>
        {value}
      </p>
      {note ? <p className="stat-note">{note}</p> : null}
    </section>
  );
}

/**
 * Usage reporting to Dodo: the outbox every metered ledger row enters, per status, how far
 * the reporter lags, and the rows that never reached Dodo.
 */
export default async function UsageReportingPage({ searchParams }: { searchParams: SearchParams }) {
  const params = await searchParams;
  const statusParam = firstParam(params.status);
  const statuses = readStatuses(statusParam);
  const cursor = outboxCursorParam.read(params.after);
  const [status, rows] = await Promise.all([
    api.billing.dodo.usageReporting.status({}),
    api.billing.dodo.usageReporting.rows({ filter: { statuses }, cursor, limit: PAGE_SIZE }),
  ]);
  const { counts } = status;
  const only = statuses.length === 1 ? statuses[0] : undefined;

  return (
    <>
      <p className="muted">
        <Link href="/webhooks">← Webhooks</Link>
      </p>
      <h1>Usage reporting</h1>
      <p className="muted">
        Every metered ledger row enters the outbox in the same statement as the ledger row; the reporter sends pending rows to Dodo (event
        id = ledger id) and marks them sent. Rows that could not be sent within Dodo&apos;s 1-hour ingest window are <em>expired</em>, rows
        Dodo refused are <em>failed</em>: both are listed below, never silently dropped. Measured{" "}
        <UtcTime value={status.measuredAt} precision="second" /> UTC.
      </p>
      <div className="stats">
        <Stat
          id="outbox-pending"
          label="Pending"
          value={formatCount(counts.pending)}
          note={
            status.oldestPendingAgeSeconds === null
              ? "Nothing waiting to be sent."
              : `Oldest pending: ${formatAge(status.oldestPendingAgeSeconds)} old.`
          }
          tone={status.oldestPendingAgeSeconds !== null && status.oldestPendingAgeSeconds > LAG_WARNING_SECONDS ? "bad" : undefined}
        />
        <Stat id="outbox-sent" label="Sent" value={formatCount(counts.sent)} />
        <Stat id="outbox-failed" label="Failed" value={formatCount(counts.failed)} tone={counts.failed > 0n ? "bad" : undefined} />
        <Stat id="outbox-expired" label="Expired" value={formatCount(counts.expired)} tone={counts.expired > 0n ? "bad" : undefined} />
      </div>
      {status.oldestPendingAt ? (
        <p className="muted">
          Oldest pending usage happened at <UtcTime value={status.oldestPendingAt} precision="second" /> UTC; Dodo refuses events older than
          one hour.
        </p>
      ) : null}

      <section aria-labelledby="unsent-title">
        <h2 id="unsent-title">Usage that did not reach Dodo</h2>
        <FilterForm action="/webhooks/usage-reporting" label="Unsent usage filters" clearHref={only ? "/webhooks/usage-reporting" : null}>
          <div className="field">
            <label htmlFor="outbox-status">Status</label>
            <select id="outbox-status" name="status" defaultValue={only ?? ""}>
              <option value="">Expired and failed</option>
              <option value="expired">Expired</option>
              <option value="failed">Failed</option>
            </select>
          </div>
        </FilterForm>
        {rows.items.length === 0 ? (
          <p className="muted">{cursor ? "No older rows." : "None: every metered usage row was sent or is still pending."}</p>
        ) : (
          <DataTable label="Unsent usage">
            <thead>
              <tr>
                <th scope="col">Event time (UTC)</th>
                <th scope="col">Organization</th>
                <th scope="col">Ledger id</th>
                <th scope="col">Metric</th>
                <th scope="col" className="num">
                  Quantity
                </th>
                <th scope="col">Status</th>
                <th scope="col" className="num">
                  Attempts
                </th>
                <th scope="col">Last error</th>
              </tr>
            </thead>
            <tbody>
              {rows.items.map((r) => (
                <tr key={r.ledgerId}>
                  <td>
                    <UtcTime value={r.eventTimestamp} precision="second" />
                  </td>
                  <td>
                    <Link href={`/organizations/${r.orgId}`}>{r.orgName ?? r.orgId}</Link>
                  </td>
                  <td>
                    <Link href={withQuery("/ledger", { org: r.orgId, metric: r.metric })} title="The org's ledger for this metric">
                      <code>{r.ledgerId}</code>
                    </Link>
                  </td>
                  <td>
                    {r.metric} <span className="muted">({r.eventName})</span>
                  </td>
                  <td className="num">{formatCount(r.quantity)}</td>
                  <td>
                    <span className={`status status-${r.status}`}>{r.status}</span>
                  </td>
                  <td className="num">{r.attempts}</td>
                  <td className="cell-text" title={r.lastError ?? undefined}>
                    {r.lastError ?? <span className="muted">—</span>}
                  </td>
                </tr>
              ))}
            </tbody>
          </DataTable>
        )}
        <KeysetPager
          label="Unsent usage pages"
          firstHref={cursor ? withQuery("/webhooks/usage-reporting", { status: only }) : null}
          nextHref={
            rows.nextCursor
              ? withQuery("/webhooks/usage-reporting", { status: only, after: outboxCursorParam.write(rows.nextCursor) })
              : null
          }
          nextLabel="Older rows →"
        />
      </section>
    </>
  );
}
