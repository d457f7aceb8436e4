import type { Metadata } from "next";
import Link from "next/link";

import { roleAtLeast } from "@/server/auth";
import { WEBHOOK_STATUSES } from "@/server/billing/dodo/webhook-status";
import { api, currentStaff } from "@/trpc/server";

import { DataTable } from "../_components/data-table";
import { FilterForm } from "../_components/filter-form";
import { FilterProblems } from "../_components/filter-problems";
import { KeysetPager } from "../_components/keyset-pager";
import { ResyncButton } from "../_components/resync-button";
import { UtcTime } from "../_components/utc-time";
import { formatCount } from "../_lib/format";
import { queryString, withQuery } from "../_lib/query-string";
import { readWebhookCursor, readWebhookFilter, webhookCursorParam, webhookHref } from "./filters";
import { PROBLEMS_FILTER, STATUS_LABELS } from "./format";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Webhooks" };

const PAGE_SIZE = 50;
type SearchParams = Promise<Record<string, string | string[] | undefined>>;

const EMPTY_PAGE = {
  items: [],
  nextCursor: null,
  counts: Object.fromEntries(WEBHOOK_STATUSES.map((s) => [s, 0])) as Record<string, number>,
};

/** Dodo webhook deliveries, newest first, with filters in the URL and keyset pages. */
export default async function WebhooksPage({ searchParams }: { searchParams: SearchParams }) {
  const params = await searchParams;
  const { filter, problems, raw } = readWebhookFilter(params);
  const cursor = readWebhookCursor(params.after);
  const [page, session] = await Promise.all([
    problems.length ? EMPTY_PAGE : api.billing.dodo.webhooks.list({ filter, cursor, limit: PAGE_SIZE }),
    currentStaff(),
  ]);
  const query = queryString(raw);
  const total = Object.values(page.counts).reduce((a, b) => a + b, 0);
  const problemCount = (page.counts.failed ?? 0) + (page.counts.needs_attention ?? 0);
  // The select offers the usual choices; a hand-written status list in the URL stays selectable.
  const statusChoices: [string, string][] = [
    ["", "All statuses"],
    [PROBLEMS_FILTER, "Failed or needs attention"],
    ...WEBHOOK_STATUSES.map((s): [string, string] => [s, STATUS_LABELS[s] ?? s]),
  ];
  if (raw.status && !statusChoices.some(([value]) => value === raw.status)) statusChoices.push([raw.status, raw.status]);
  /** The same filter with another status (and from the newest page). */
  const withStatus = (status: string) => withQuery("/webhooks", raw, { status });

  return (
    <>
      <h1>Webhooks</h1>
      <p className="muted">
        Every verified Dodo Payments delivery, newest first, with what processing did. Times are UTC. A failed delivery is retried by Dodo;
        one that needs attention (unknown organization or product, bad payload) waits for staff to fix the cause and replay it.{" "}
        <Link href="/webhooks/usage-reporting">Usage reporting status →</Link>
      </p>
      {roleAtLeast(session?.user.role, "admin") ? (
        <section aria-label="Reconcile with Dodo" className="reconcile-all">
          <p className="muted">
            A lost webhook cannot leave an organization on the wrong plan: fetch every known subscription from the Dodo API and sync it
            (what <code>npm run reconcile</code> does).
          </p>
          <ResyncButton label="Reconcile all subscriptions with Dodo" />
        </section>
      ) : null}

      <nav aria-label="Webhook statuses" className="status-tabs">
        <Link href={withStatus("")} aria-current={raw.status ? undefined : "page"}>
          All <span className="count">{formatCount(total)}</span>
        </Link>
        <Link href={withStatus(PROBLEMS_FILTER)} aria-current={raw.status === PROBLEMS_FILTER ? "page" : undefined}>
          Failed or needs attention <span className="count">{formatCount(problemCount)}</span>
        </Link>
        {WEBHOOK_STATUSES.map((s) => (
          <Link key={s} href={withStatus(s)} aria-current={raw.status === s ? "page" : undefined}>
            {STATUS_LABELS[s] ?? s} <span className="count">{formatCount(page.counts[s] ?? 0)}</span>
          </Link>
        ))}
      </nav>

      <FilterForm action="/webhooks" label="Webhook filters" clearHref={query ? "/webhooks" : null}>
        <div className="field">
          <label htmlFor="webhooks-type">Type</label>
          <input id="webhooks-type" name="type" defaultValue={raw.type} placeholder="e.g. subscription.active" autoComplete="off" />
        </div>
        <div className="field">
          <label htmlFor="webhooks-status">Status</label>
          <select id="webhooks-status" name="status" defaultValue={raw.status}>
            {statusChoices.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="webhooks-org">Organization id</label>
          <input id="webhooks-org" name="org" defaultValue={raw.org} placeholder="UUID" autoComplete="off" />
        </div>
        <div className="field">
          <label htmlFor="webhooks-from">Received from (UTC)</label>
          <input id="webhooks-from" name="from" type="date" defaultValue={raw.from} />
        </div>
        <div className="field">
          <label htmlFor="webhooks-to">Received to (UTC, inclusive)</label>
          <input id="webhooks-to" name="to" type="date" defaultValue={raw.to} />
        </div>
      </FilterForm>

      {problems.length ? <FilterProblems problems={problems} /> : null}

      {page.items.length === 0 ? (
        <p className="muted">{cursor ? "No older events." : "No webhook events match."}</p>
      ) : (
        <DataTable label="Webhook events">
          <thead>
            <tr>
              <th scope="col">Received (UTC)</th>
              <th scope="col">Type</th>
              <th scope="col">Status</th>
              <th scope="col" className="num">
                Attempts
              </th>
              <th scope="col">Organization</th>
              <th scope="col">Webhook id</th>
              <th scope="col">Error or outcome</th>
            </tr>
          </thead>
          <tbody>
            {page.items.map((e) => (
              <tr key={e.id}>
                <td>
                  <UtcTime value={e.receivedAt} precision="second" />
                </td>
                <td>{e.type}</td>
                <td>
                  <span className={`status status-${e.status}`}>{STATUS_LABELS[e.status] ?? e.status}</span>
                </td>
                <td className="num">{e.attempts}</td>
                <td>
                  {e.orgId ? <Link href={`/organizations/${e.orgId}`}>{e.orgName ?? e.orgId}</Link> : <span className="muted">—</span>}
                </td>
                <td>
                  <Link href={webhookHref(e.id)}>
                    <code>{e.id}</code>
                  </Link>
                </td>
                <td className="cell-text" title={e.error ?? e.outcome ?? undefined}>
                  {e.error ? <span className="webhook-error">{e.error}</span> : (e.outcome ?? <span className="muted">—</span>)}
                </td>
              </tr>
            ))}
          </tbody>
        </DataTable>
      )}
      <KeysetPager
        label="Webhook pages"
        firstHref={cursor ? withQuery("/webhooks", raw) : null}
        nextHref={page.nextCursor ? withQuery("/webhooks", raw, { after: webhookCursorParam(page.nextCursor) }) : null}
        nextLabel="Older events →"
      />
    </>
  );
}
