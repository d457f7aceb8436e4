import type { Metadata } from "next";
import Link from "next/link";

import { METRICS, PLANS, type Metric } from "@/server/billing/catalogue";
import { api } from "@/trpc/server";

import { DataTable } from "../_components/data-table";
import { FilterForm } from "../_components/filter-form";
import { UsageBar } from "../_components/usage-bar";
import { formatCount, formatStatus } from "../_lib/format";
import { formatAmount, metricLabel } from "../_lib/metric-display";
import { withQuery } from "../_lib/query-string";

// Reads the database on every request; `next build` must not prerender it.
export const dynamic = "force-dynamic";

export const metadata: Metadata = { title: "Organizations" };

const PAGE_SIZE = 25;
const SEARCH_MAX = 200;

type SearchParams = Promise<Record<string, string | string[] | undefined>>;

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The URL is user input: anything odd falls back to "no filter" / page 1 rather than an error. */
function readFilters(params: Record<string, string | string[] | undefined>) {
  const search = (first(params.search) ?? "").trim().slice(0, SEARCH_MAX);
  const planParam = first(params.plan);
  const plan = PLANS.some((p) => p.id === planParam) ? planParam : undefined;
  const pageParam = Number(first(params.page));
  const page = Number.isSafeInteger(pageParam) && pageParam >= 1 ? pageParam : 1;
  const nearParam = first(params.near);
  const near: 80 | 100 | undefined = nearParam === "80" ? 80 : nearParam === "100" ? 100 : undefined;
  const sortParam = first(params.sort);
  const sort: Metric | undefined = METRICS.find((m) => m === sortParam);
  return { search, plan, page, near, sort };
}

type Filters = Omit<ReturnType<typeof readFilters>, "page">;

const NEAR_LABELS = { 80: "at ≥ 80 % of a limit", 100: "at or over a limit" } as const;

function pageHref(filters: Filters, page: number): string {
  const { search, plan, near, sort } = filters;
  return withQuery("/organizations", { search, plan, near, sort, page: page > 1 ? page : undefined });
}

/** A small usage bar under a count, against the org's effective limit (none when unlimited). */
function RowBar({ metric, count, limit }: { metric: string; count: bigint | null; limit?: { limit: bigint | null; limitKind: string } }) {
  if (!limit || limit.limit === null) return null;
  return (
    <div className="row-bar">
      <UsageBar metric={metric} count={count ?? 0n} limit={limit.limit} limitKind={limit.limitKind} />
    </div>
  );
}

function Count({ metric, value }: { metric: string; value: bigint | null }) {
  if (value === null)
    return (
      <span className="muted" title="Not counted yet (no usage cache row)">
        —
      </span>
    );
  return <>{formatAmount(metric, value)}</>;
}

export default async function OrganizationsPage({ searchParams }: { searchParams: SearchParams }) {
  const filters = readFilters(await searchParams);
  const result = await api.billing.orgs.list({
    search: filters.search || undefined,
    plan: filters.plan,
    page: filters.page,
    pageSize: PAGE_SIZE,
    near: filters.near,
    sort: filters.sort ?? "name",
  });
  const totalPages = Math.max(1, Math.ceil(result.total / result.pageSize));
  const filtered = Boolean(filters.search || filters.plan || filters.near);
  const planName = PLANS.find((p) => p.id === filters.plan)?.name;

  return (
    <>
      <h1>Organizations</h1>

      <FilterForm action="/organizations" label="Organization filters" submitLabel="Apply" clearHref={filtered ? "/organizations" : null}>
        <div className="field">
          <label htmlFor="org-search">Search</label>
          <input
            id="org-search"
            name="search"
            type="search"
            defaultValue={filters.search}
            maxLength={SEARCH_MAX}
            placeholder="Name, slug or id"
            autoComplete="off"
          />
        </div>
        <div className="field">
          <label htmlFor="org-plan">Plan</label>
          <select id="org-plan" name="plan" defaultValue={filters.plan ?? ""}>
            <option value="">All plans</option>
            {PLANS.map((plan) => (
              <option key={plan.id} value={plan.id}>
                {plan.name}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="org-near">Usage</label>
          <select id="org-near" name="near" defaultValue={filters.near ? String(filters.near) : ""}>
            <option value="">Any usage</option>
            <option value="80">Near limit (≥ 80 %)</option>
            <option value="100">At or over limit (≥ 100 %)</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="org-sort">Sort by</label>
          <select id="org-sort" name="sort" defaultValue={filters.sort ?? "name"}>
            <option value="name">Name</option>
            {METRICS.map((m) => (
              <option key={m} value={m}>
                {metricLabel(m)} (most first)
              </option>
            ))}
          </select>
        </div>
      </FilterForm>

      {result.items.length === 0 ? (
        <section className="empty" aria-labelledby="empty-title">
          <h2 id="empty-title">{result.total > 0 ? "This page is past the end of the list" : "No organizations found"}</h2>
          {result.total > 0 ? (
            <p>
              <Link href={pageHref(filters, totalPages)}>Go to the last page ({totalPages})</Link>
            </p>
          ) : filtered ? (
            <p>
              Nothing matches
              {filters.search ? <> “{filters.search}”</> : null}
              {planName ? <> on the {planName} plan</> : null}
              {filters.near ? <> {NEAR_LABELS[filters.near]}</> : null}. <Link href="/organizations">Clear filters</Link>
            </p>
          ) : (
            <p>There are no organizations in this database yet.</p>
          )}
        </section>
      ) : (
        <DataTable caption={`Organizations${filtered ? " matching the filters" : ""}, page ${result.page} of ${totalPages}`}>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Slug</th>
              <th scope="col">Plan</th>
              <th scope="col">Status</th>
              {METRICS.map((m) => (
                <th key={m} scope="col" className="num">
                  {metricLabel(m)}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {result.items.map((org) => (
              <tr key={org.id}>
                <th scope="row">
                  <Link href={`/organizations/${org.id}`}>{org.name}</Link>
                </th>
                <td>
                  <code>{org.slug}</code>
                </td>
                <td>
                  <span className={`plan plan-${org.planId}`}>{org.planName}</span>
                </td>
                <td>
                  {org.subscriptionStatus ? (
                    <span className={`status status-${org.subscriptionStatus}`}>{formatStatus(org.subscriptionStatus)}</span>
                  ) : (
                    <span className="muted">No subscription</span>
                  )}
                </td>
                {METRICS.map((m) => (
                  <td key={m} className="num">
                    <Count metric={m} value={org.counts[m]} />
                    <RowBar metric={m} count={org.counts[m]} limit={org.limits[m]} />
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </DataTable>
      )}

      {result.total > 0 ? (
        <nav aria-label="Pagination" className="pagination">
          {result.page > 1 ? (
            <Link href={pageHref(filters, Math.min(result.page - 1, totalPages))} rel="prev" className="button button-secondary">
              ← Previous
            </Link>
          ) : (
            <span className="button button-secondary" aria-disabled="true">
              ← Previous
            </span>
          )}
          <p className="page-info" aria-live="polite">
            Page {result.page} of {totalPages} · {formatCount(result.total)} {result.total === 1 ? "organization" : "organizations"}
          </p>
          {result.page < totalPages ? (
            <Link href={pageHref(filters, result.page + 1)} rel="next" className="button button-secondary">
              Next →
            </Link>
          ) : (
            <span className="button button-secondary" aria-disabled="true">
              Next →
            </span>
          )}
        </nav>
      ) : null}
    </>
  );
}
